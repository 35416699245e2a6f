//! Probes: liveness (the process answers) and readiness (the store answers).

use actix_web::{HttpResponse, web};
use portcullis_ports::store::UnitOfWork;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /health/live`.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(json!({ "status": "live" }).to_string())
}

/// `GET /health/ready`: `200` when the store answers, `503` otherwise.
pub async fn ready<U: UnitOfWork>(state: web::Data<AppState<U>>) -> Result<HttpResponse, ApiError> {
    state.store.ping().await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(json!({ "status": "ready" }).to_string()))
}
