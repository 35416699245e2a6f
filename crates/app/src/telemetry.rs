//! Prometheus metrics: the `metrics` facade's recorder, rendered as
//! Prometheus text at `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (HTTP
//! middleware, the token endpoint, the action engine, the delivery worker);
//! gauges of the store (pool use, outbox depth) and of the rate limiters
//! are read on each scrape. The recorder is process-wide: one per process,
//! installed on first use (a test process serving several apps shares it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portcullis_adapters_http::limits::RateLimits;
use portcullis_adapters_postgres::DieselStore;
use portcullis_ports::store::{StoreError, UnitOfWork as _};

use crate::wiring::StartError;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram buckets of latencies, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

fn handle() -> Result<PrometheusHandle, StartError> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?;
            let handle = builder.install_recorder().map_err(|e| e.to_string())?;
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP);
                        upkeep.run_upkeep();
                    }
                })
                .map_err(|e| e.to_string())?;
            describe();
            Ok(handle)
        })
        .clone()
        .map_err(|e| StartError(format!("cannot install the metrics recorder: {e}")))
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    use portcullis_adapters_http::metrics as http;
    describe_counter!(http::HTTP_REQUESTS, "HTTP requests answered");
    describe_histogram!(
        http::HTTP_DURATION,
        metrics::Unit::Seconds,
        "HTTP request latency"
    );
    describe_counter!(
        http::TOKEN_REQUESTS,
        "token requests by outcome (issued or the OAuth error code)"
    );
    describe_counter!(
        portcullis_adapters_http::limits::RATE_LIMITED,
        "requests refused by a rate limit, by policy"
    );
    describe_gauge!(
        RATE_LIMIT_KEYS,
        "addresses and clients the rate limiters remember"
    );
    describe_gauge!(POOL_MAX, "most database connections the pool opens");
    describe_gauge!(POOL_OPEN, "database connections open");
    describe_gauge!(POOL_IDLE, "open database connections not in use");
    describe_gauge!(POOL_IN_USE, "units of work holding a database connection");
    describe_gauge!(
        OUTBOX_PENDING,
        "webhook deliveries pending (queued or waiting for a retry)"
    );
    describe_counter!(
        OUTBOX_READ_ERRORS,
        "scrapes that could not read the outbox depth"
    );
    describe_counter!(
        "portcullis_action_runs_total",
        "action runs by trigger and outcome"
    );
    describe_counter!(
        "portcullis_webhook_deliveries_total",
        "webhook delivery attempts by outcome"
    );
}

const RATE_LIMIT_KEYS: &str = "portcullis_rate_limit_tracked_keys";
const POOL_MAX: &str = "portcullis_db_pool_max_connections";
const POOL_OPEN: &str = "portcullis_db_pool_connections";
const POOL_IDLE: &str = "portcullis_db_pool_idle_connections";
const POOL_IN_USE: &str = "portcullis_db_pool_in_use_connections";
const OUTBOX_PENDING: &str = "portcullis_webhook_outbox_pending";
const OUTBOX_READ_ERRORS: &str = "portcullis_webhook_outbox_read_errors_total";

/// What `GET /metrics` renders.
#[derive(Clone)]
pub struct Scraper {
    handle: PrometheusHandle,
    store: Arc<DieselStore>,
    limits: Arc<RateLimits>,
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraper").finish_non_exhaustive()
    }
}

impl Scraper {
    /// Installs the process's recorder (once) and reads gauges from `store` and `limits`.
    ///
    /// # Errors
    /// [`StartError`] when another recorder is installed already.
    pub fn new(store: Arc<DieselStore>, limits: Arc<RateLimits>) -> Result<Self, StartError> {
        Ok(Self {
            handle: handle()?,
            store,
            limits,
        })
    }

    /// The Prometheus text, with the gauges read now.
    pub async fn render(&self) -> String {
        let pool = self.store.pool_status();
        metrics::gauge!(POOL_MAX).set(f64::from(pool.max_size));
        metrics::gauge!(POOL_OPEN).set(f64::from(pool.connections));
        metrics::gauge!(POOL_IDLE).set(f64::from(pool.idle));
        metrics::gauge!(POOL_IN_USE).set(f64::from(pool.in_use));
        #[expect(clippy::cast_precision_loss, reason = "a gauge; exact below 2^53 keys")]
        metrics::gauge!(RATE_LIMIT_KEYS).set(self.limits.tracked_keys() as f64);
        let depth = self.store.read(|tx| tx.count_pending_deliveries()).await;
        match depth {
            #[expect(
                clippy::cast_precision_loss,
                reason = "a gauge; exact below 2^53 deliveries"
            )]
            Ok(depth) => metrics::gauge!(OUTBOX_PENDING).set(depth as f64),
            Err(error) => {
                let error: StoreError = error;
                tracing::warn!(error = %error, "cannot read the webhook outbox depth");
                metrics::counter!(OUTBOX_READ_ERRORS).increment(1);
            }
        }
        self.handle.render()
    }
}

/// `GET /metrics`.
async fn scrape(scraper: web::Data<Scraper>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(("cache-control", "no-store"))
        .body(scraper.render().await)
}

/// Registers `GET /metrics`.
pub fn configure(config: &mut web::ServiceConfig, scraper: Scraper) {
    config.service(
        web::resource("/metrics")
            .app_data(web::Data::new(scraper))
            .route(web::get().to(scrape))
            .default_service(portcullis_adapters_http::routes::not_allowed(&["GET"])),
    );
}
