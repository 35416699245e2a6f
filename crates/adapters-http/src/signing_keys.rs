//! `/api/signing-keys`: the signing-keys collection.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::signing_keys::SigningKeyError;
use portcullis_domain::SigningKeyId;
use portcullis_domain::signing_key::KeyRuleError;
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::jsonapi::{Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

fn key_id(raw: &str) -> Result<SigningKeyId, ApiError> {
    SigningKeyId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no signing key with id `{raw}`")))
}

impl From<SigningKeyError> for ApiError {
    fn from(error: SigningKeyError) -> Self {
        match error {
            SigningKeyError::NotFound => ApiError::not_found("no such signing key"),
            SigningKeyError::Rule(rule) => {
                let code = match rule {
                    KeyRuleError::LastActiveKey => "last_active_key",
                    KeyRuleError::AlreadyInactive => "key_inactive",
                    KeyRuleError::StillActive => "key_active",
                    KeyRuleError::NotFound => return ApiError::not_found("no such signing key"),
                };
                ApiError::conflict(code, rule.to_string())
            }
            SigningKeyError::Store(store) => store.into(),
            err @ SigningKeyError::Crypto(_) => ApiError::internal(&err),
        }
    }
}

/// `GET /api/signing-keys`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("signing_keys:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .signing_keys
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/signing-keys");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |key| (representation::signing_key(key), key.id.to_string()),
    ))
}

/// `GET /api/signing-keys/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("signing_keys:read")?;
    let key = state.signing_keys.get(&actor, key_id(&path)?).await?;
    Ok(resource_response(
        StatusCode::OK,
        representation::signing_key(&key),
        &caller.url(&format!("/api/signing-keys/{}", key.id)),
    ))
}

/// `POST /api/signing-keys`: an empty body or an empty `signing_key` document.
pub async fn generate<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("signing_keys:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    read_resource(&request, &body, "signing_key", Expect::Create, true)?.only(&[])?;
    let key = state.signing_keys.generate(&actor).await?;
    Ok(resource_response(
        StatusCode::CREATED,
        representation::signing_key(&key),
        &caller.url(&format!("/api/signing-keys/{}", key.id)),
    ))
}

/// `PATCH /api/signing-keys/{id}/deactivate`.
pub async fn deactivate<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("signing_keys:write")?;
    let key = state
        .signing_keys
        .deactivate(&actor, key_id(&path)?)
        .await?;
    Ok(resource_response(
        StatusCode::OK,
        representation::signing_key(&key),
        &caller.url(&format!("/api/signing-keys/{}", key.id)),
    ))
}

/// `DELETE /api/signing-keys/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("signing_keys:delete")?;
    state.signing_keys.delete(&actor, key_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
