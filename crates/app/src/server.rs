//! The HTTP server: routes, middleware, graceful shutdown.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use portcullis_adapters_http::head::{HeadLimits, head_limits};
use portcullis_adapters_http::limits::rate_limit_headers;
use portcullis_adapters_http::metrics::http_metrics;
use portcullis_adapters_http::middleware::{json_errors, request_log};
use portcullis_adapters_http::{AppState, configure};
use portcullis_adapters_postgres::DieselStore;

use crate::wiring::StartError;

/// Starts serving on `listener`; the returned server runs until its handle
/// stops it (the binary does so on SIGINT/SIGTERM, see [`stop_on_signals`]),
/// then drains in-flight requests for `shutdown_timeout` seconds. With
/// `metrics`, `GET /metrics` serves Prometheus text. Request heads over
/// `head` are refused with JSON:API errors.
///
/// # Errors
/// [`StartError`] when the listener cannot be used.
pub fn start(
    state: AppState<DieselStore>,
    listener: TcpListener,
    workers: usize,
    shutdown_timeout: u64,
    head: HeadLimits,
    metrics: Option<crate::telemetry::Scraper>,
) -> Result<Server, StartError> {
    let state = web::Data::new(state);
    let head = web::Data::new(head);
    let mut server = HttpServer::new(move || {
        let metrics = metrics.clone();
        App::new()
            .app_data(state.clone())
            .app_data(head.clone())
            .configure(move |config| {
                if let Some(scraper) = metrics {
                    crate::telemetry::configure(config, scraper);
                }
            })
            .configure(configure::<DieselStore>)
            .wrap(from_fn(head_limits))
            .wrap(from_fn(rate_limit_headers))
            .wrap(from_fn(json_errors))
            .wrap(from_fn(request_log))
            .wrap(from_fn(http_metrics))
    })
    .shutdown_timeout(shutdown_timeout)
    .disable_signals();
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server
        .listen(listener)
        .map_err(|e| StartError(format!("cannot serve: {e}")))?;
    Ok(server.run())
}

/// Stops `server` gracefully on the first SIGINT or SIGTERM. The handlers are
/// installed before this returns, so a signal that arrives once the caller
/// has announced the server is never lost.
///
/// # Errors
/// [`StartError`] when the signal handlers cannot be installed.
pub fn stop_on_signals(server: &Server) -> Result<(), StartError> {
    use tokio::signal::unix::{SignalKind, signal};
    let install = |kind: SignalKind| {
        signal(kind).map_err(|e| StartError(format!("cannot handle signals: {e}")))
    };
    let mut terminate = install(SignalKind::terminate())?;
    let mut interrupt = install(SignalKind::interrupt())?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "draining in-flight requests, then stopping");
        handle.stop(true).await;
    });
    Ok(())
}

/// Starts the webhook delivery worker on the runtime; it runs until `true`
/// is sent on the returned channel, and the handle ends when it has.
#[must_use]
pub fn start_deliveries(
    worker: std::sync::Arc<portcullis_application::webhook_delivery::DeliveryWorker<DieselStore>>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    (stop, tokio::spawn(worker.run(stopped)))
}

/// Starts the retention janitor on the runtime; it runs until `true` is
/// sent on the returned channel.
#[must_use]
pub fn start_janitor(
    janitor: std::sync::Arc<portcullis_application::retention::Janitor<DieselStore>>,
) -> (
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    (stop, tokio::spawn(janitor.run(stopped)))
}
