//! One error type for every failure the HTTP layer answers, rendered as a
//! JSON:API error document. Internal causes are logged, never serialized.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::jsonapi::JSONAPI;

/// Where in the request the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON Pointer into the request document.
    Pointer(String),
    /// A query parameter.
    Parameter(String),
    /// A request header.
    Header(String),
}

/// One JSON:API error object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorObject {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: String,
    /// Short summary, the same for every occurrence of the code.
    pub title: String,
    /// This occurrence.
    pub detail: String,
    /// Where.
    pub source: Option<Source>,
}

impl ErrorObject {
    fn to_json(&self) -> Value {
        let mut object = json!({
            "status": self.status.as_str(),
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
        });
        let source = match &self.source {
            Some(Source::Pointer(p)) => Some(json!({ "pointer": p })),
            Some(Source::Parameter(p)) => Some(json!({ "parameter": p })),
            Some(Source::Header(h)) => Some(json!({ "header": h })),
            None => None,
        };
        if let (Some(source), Some(map)) = (source, object.as_object_mut()) {
            map.insert("source".into(), source);
        }
        object
    }
}

/// A failed request: one or more error objects sharing a status, plus headers.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    errors: Vec<ErrorObject>,
    headers: Vec<(HeaderName, String)>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.errors.first() {
            Some(first) => write!(
                f,
                "{} {}: {}",
                self.status.as_u16(),
                first.code,
                first.detail
            ),
            None => write!(f, "{}", self.status),
        }
    }
}

impl ApiError {
    /// An error with one object.
    #[must_use]
    pub fn new(status: StatusCode, code: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![ErrorObject {
                status,
                code: code.to_owned(),
                title: title.to_owned(),
                detail: detail.into(),
                source: None,
            }],
            headers: Vec::new(),
        }
    }

    /// Several objects under one status (e.g. every invalid attribute at once).
    #[must_use]
    pub fn many(status: StatusCode, errors: Vec<ErrorObject>) -> Self {
        Self {
            status,
            errors,
            headers: Vec::new(),
        }
    }

    /// Points the (last) error object at a member of the request document.
    #[must_use]
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        if let Some(last) = self.errors.last_mut() {
            last.source = Some(Source::Pointer(pointer.into()));
        }
        self
    }

    /// Points the (last) error object at a query parameter.
    #[must_use]
    pub fn param(mut self, parameter: impl Into<String>) -> Self {
        if let Some(last) = self.errors.last_mut() {
            last.source = Some(Source::Parameter(parameter.into()));
        }
        self
    }

    /// Points the (last) error object at a header.
    #[must_use]
    pub fn header_source(mut self, name: impl Into<String>) -> Self {
        if let Some(last) = self.errors.last_mut() {
            last.source = Some(Source::Header(name.into()));
        }
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error objects.
    #[must_use]
    pub fn errors(&self) -> &[ErrorObject] {
        &self.errors
    }

    /// `400`: malformed request.
    #[must_use]
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    /// `404`.
    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    /// `409`.
    #[must_use]
    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    /// `422` for one attribute.
    #[must_use]
    pub fn invalid(code: &str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "Invalid attribute",
            detail,
        )
    }

    /// `401` with the RFC 6750 challenge.
    #[must_use]
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Unauthorized",
            detail.clone(),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                detail.replace('"', "'")
            ),
        )
    }

    /// `403` for a missing scope, with the RFC 6750 challenge naming it.
    #[must_use]
    pub fn insufficient_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "Forbidden",
            format!("the access token lacks the `{scope}` scope"),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        )
    }

    /// `503`: the store cannot be reached; clients may retry.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "Service unavailable",
            "the database cannot be reached; retry shortly",
        )
        .with_header(header::RETRY_AFTER, "1")
    }

    /// `500`: logs `cause` with its chain and answers a generic error.
    #[must_use]
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(inner) = source {
            chain.push_str(": ");
            chain.push_str(&inner.to_string());
            source = inner.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
            "the server failed to handle the request",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, JSONAPI));
        for (name, value) in &self.headers {
            if let Ok(value) = HeaderValue::from_str(value) {
                response.append_header((name.clone(), value));
            }
        }
        let errors: Vec<Value> = self.errors.iter().map(ErrorObject::to_json).collect();
        response.body(json!({ "errors": errors }).to_string())
    }
}

impl From<portcullis_ports::store::StoreError> for ApiError {
    fn from(error: portcullis_ports::store::StoreError) -> Self {
        match error {
            portcullis_ports::store::StoreError::Unavailable(_) => {
                tracing::warn!(error = %error, "store unavailable");
                Self::unavailable()
            }
            portcullis_ports::store::StoreError::MissingReference => Self::conflict(
                "concurrent_deletion",
                "a resource this request refers to was deleted while it ran",
            ),
            other => Self::internal(&other),
        }
    }
}

/// `422` with one error object per invalid attribute, each pointing at it
/// in a resource document (`/data/attributes/...`).
pub(crate) fn violations(
    list: Vec<portcullis_application::validation::FieldViolation>,
) -> ApiError {
    violations_at(
        list,
        portcullis_application::validation::FieldViolation::pointer,
    )
}

/// `422` with one error object per invalid member, each pointing where
/// `pointer` says (for bodies that are not resource documents).
pub(crate) fn violations_at(
    list: Vec<portcullis_application::validation::FieldViolation>,
    pointer: impl Fn(&portcullis_application::validation::FieldViolation) -> String,
) -> ApiError {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    ApiError::many(
        status,
        list.into_iter()
            .map(|v| {
                let pointer = pointer(&v);
                ErrorObject {
                    status,
                    code: v.code.to_owned(),
                    title: "Invalid attribute".to_owned(),
                    detail: v.detail,
                    source: Some(Source::Pointer(pointer)),
                }
            })
            .collect(),
    )
}
