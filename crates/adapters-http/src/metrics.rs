//! HTTP metrics through the `metrics` facade: a count and a latency
//! histogram of every request by method, route pattern and status. The
//! exporter (Prometheus text at `/metrics`) is installed by the binary.
//!
//! The `route` label is the pattern that matched (`/api/users/{id}`), never
//! the raw path, and `unmatched` for paths no route matches; methods other
//! than the standard ones share `OTHER`: label values stay a bounded set
//! whatever clients send.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Requests answered: `method`, `route`, `status`.
pub const HTTP_REQUESTS: &str = "portcullis_http_requests_total";
/// Seconds from the request's head to its response's head: `method`, `route`, `status`.
pub const HTTP_DURATION: &str = "portcullis_http_request_duration_seconds";
/// Token requests by `outcome`: `issued` or the OAuth error code.
pub const TOKEN_REQUESTS: &str = "portcullis_token_requests_total";
/// The `route` of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts and times every request.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn http_metrics(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.call(request).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let status = response.status().as_str().to_owned();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed);
    Ok(response)
}
