//! Request middleware: one log line per request with a request id, and a
//! safety net that turns any error response not already JSON (actix's own:
//! unknown route, wrong method, extractor failures) into a JSON:API error.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use tracing::Instrument as _;

use crate::error::ApiError;

/// The header carrying the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty()
        && text.len() <= 128
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
    .then(|| text.to_owned())
}

/// Logs `method path status duration request_id` once per request and
/// returns the request id in `x-request-id` (a caller's own id is kept when sane).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn request_log(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| ulid::Ulid::generate().to_string());
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = next
        .call(request)
        .instrument(span)
        .await?
        .map_into_boxed_body();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1_000.0;
    tracing::info!(target: "portcullis::http", request_id = %request_id, method = %method, path = %path, status, duration_ms = format!("{duration_ms:.2}"), "request");
    Ok(response)
}

fn is_json(response: &ServiceResponse<impl MessageBody>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/vnd.api+json") || ct.starts_with("application/json")
        })
}

fn replacement(status: actix_web::http::StatusCode, allow: Option<HeaderValue>) -> ApiError {
    use actix_web::http::StatusCode as S;
    let error = match status {
        S::NOT_FOUND => ApiError::not_found("no route matches this path"),
        S::METHOD_NOT_ALLOWED => {
            let allowed = allow
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ApiError::new(
                status,
                "method_not_allowed",
                "Method not allowed",
                format!("allowed methods: {allowed}"),
            )
        }
        S::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            "Payload too large",
            "the request body is too large",
        ),
        S::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "Unsupported media type",
            "unsupported request media type",
        ),
        s if s.is_client_error() => {
            ApiError::bad_request("bad_request", "the request could not be understood")
        }
        _ => ApiError::new(
            status,
            "internal_error",
            "Internal server error",
            "the server failed to handle the request",
        ),
    };
    match allow {
        Some(allow) => error.with_header(header::ALLOW, allow.to_str().unwrap_or("").to_owned()),
        None => error,
    }
}

/// Rewrites error responses that are not JSON into JSON:API errors of the same status.
///
/// # Errors
/// Whatever the inner service returns as an error (not a response).
pub async fn json_errors(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    // Handlers' errors arrive here already rendered as responses; an `Err`
    // can only come from an outer layer, which renders it itself.
    let response = next.call(request).await?.map_into_boxed_body();
    if response.status().as_u16() < 400 || is_json(&response) {
        return Ok(response);
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let status = response.status();
    let (request, _) = response.into_parts();
    Ok(
        ServiceResponse::new(request, replacement(status, allow).error_response())
            .map_into_boxed_body(),
    )
}
