//! Limits of the request head: the request target (URL) and the header
//! fields, refused with JSON:API errors before any handler runs.
//!
//! actix-http itself refuses a head of 128 KiB or more, or with more than
//! 96 header fields, with a bare `431` and closes the connection; these
//! limits sit below that, so a client normally gets a JSON:API answer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError as _, web};

use crate::error::ApiError;

/// The limits (kept in the app data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request target (path and query string), in bytes.
    pub max_uri_bytes: usize,
    /// Most bytes of header fields, names and values (plus 4 a field for
    /// `: ` and the line end), summed over the fields.
    pub max_header_bytes: usize,
}

fn refusal(request: &ServiceRequest, limits: HeadLimits) -> Option<ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > limits.max_uri_bytes {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            "URI too long",
            format!(
                "the request target has {target} bytes; at most {} are accepted",
                limits.max_uri_bytes
            ),
        ));
    }
    let size = |(name, value): (
        &actix_web::http::header::HeaderName,
        &actix_web::http::header::HeaderValue,
    )| { name.as_str().len() + value.len() + 4 };
    let total: usize = request.headers().iter().map(size).sum();
    if total > limits.max_header_bytes {
        let largest = request
            .headers()
            .iter()
            .max_by_key(|field| size(*field))
            .map(|(name, _)| name.as_str().to_owned())
            .unwrap_or_default();
        return Some(
            ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_fields_too_large",
                "Request header fields too large",
                format!(
                    "the header fields have {total} bytes; at most {} are accepted",
                    limits.max_header_bytes
                ),
            )
            .header_source(largest),
        );
    }
    None
}

/// Refuses a request whose head is over the [`HeadLimits`] in the app data:
/// `414 uri_too_long` or `431 header_fields_too_large` (pointing at the largest field).
///
/// # Errors
/// Whatever the inner service returns.
pub async fn head_limits(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let limits = request
        .app_data::<web::Data<HeadLimits>>()
        .map(|d| *d.get_ref());
    if let Some(error) = limits.and_then(|limits| refusal(&request, limits)) {
        return Ok(request
            .into_response(error.error_response())
            .map_into_right_body());
    }
    Ok(next.call(request).await?.map_into_left_body())
}
