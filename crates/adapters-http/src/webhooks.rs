//! `/api/webhooks`: the webhooks collection, `rotate_secret`, and each
//! webhook's delivery attempts. `signing_secret` is rendered by two
//! responses only: create and `rotate_secret`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::webhooks::{
    CreateWebhook, UpdateWebhook, WebhookLookupError, WebhookWithSecret, WriteWebhookError,
};
use portcullis_domain::WebhookId;
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 4] = ["name", "url", "events", "active"];
/// Attributes the server sets: sending one is a `422`, never silently ignored.
const READ_ONLY: [&str; 3] = ["signing_secret", "created_at", "updated_at"];

fn webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw).map_err(|_| ApiError::not_found(format!("no webhook with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such webhook")
}

impl From<WriteWebhookError> for ApiError {
    fn from(error: WriteWebhookError) -> Self {
        match error {
            WriteWebhookError::NotFound => not_found(),
            WriteWebhookError::Invalid(list) => violations(list),
            err @ WriteWebhookError::Crypto(_) => ApiError::internal(&err),
            WriteWebhookError::Store(store) => store.into(),
        }
    }
}

impl From<WebhookLookupError> for ApiError {
    fn from(error: WebhookLookupError) -> Self {
        match error {
            WebhookLookupError::NotFound => not_found(),
            WebhookLookupError::Store(store) => store.into(),
        }
    }
}

/// Refuses read-only, unknown and `null` members.
fn check_members(attributes: &Attributes) -> Result<(), ApiError> {
    attributes.writable(&READ_ONLY, &WRITABLE, &WRITABLE)
}

fn with_secret_response(
    status: StatusCode,
    created: &WebhookWithSecret,
    link: &str,
) -> HttpResponse {
    resource_response(
        status,
        representation::webhook_with_secret(&created.webhook, &created.signing_secret),
        link,
    )
}

/// `POST /api/webhooks`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "webhook", Expect::Create, false)?;
    check_members(&attributes)?;
    let command = CreateWebhook {
        name: attributes.string("name")?,
        url: attributes.string("url")?,
        events: attributes.string_list("events")?,
        active: attributes.boolean("active")?,
    };
    let created = state.webhooks.create(&actor, command).await?;
    let link = caller.url(&format!("/api/webhooks/{}", created.webhook.id));
    Ok(with_secret_response(StatusCode::CREATED, &created, &link))
}

/// `GET /api/webhooks/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:read")?;
    let webhook = state.webhooks.get(&actor, webhook_id(&path)?).await?;
    let link = caller.url(&format!("/api/webhooks/{}", webhook.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::webhook(&webhook),
        &link,
    ))
}

/// `GET /api/webhooks`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .webhooks
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/webhooks");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |webhook| (representation::webhook(webhook), webhook.id.to_string()),
    ))
}

/// `PATCH /api/webhooks/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:write")?;
    let id = webhook_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "webhook", Expect::Update(&path), false)?;
    check_members(&attributes)?;
    let command = UpdateWebhook {
        name: attributes.string("name")?,
        url: attributes.string("url")?,
        events: attributes.string_list("events")?,
        active: attributes.boolean("active")?,
    };
    let webhook = state.webhooks.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/webhooks/{}", webhook.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::webhook(&webhook),
        &link,
    ))
}

/// `PATCH /api/webhooks/{id}/rotate_secret` (no body needed).
pub async fn rotate_secret<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:write")?;
    let rotated = state
        .webhooks
        .rotate_secret(&actor, webhook_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/webhooks/{}", rotated.webhook.id));
    Ok(with_secret_response(StatusCode::OK, &rotated, &link))
}

/// `DELETE /api/webhooks/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:delete")?;
    state.webhooks.delete(&actor, webhook_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/webhooks/{id}/deliveries`: every attempt, oldest first.
pub async fn deliveries<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("webhooks:read")?;
    let id = webhook_id(&path)?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .webhooks
        .deliveries(&actor, id, query.page(sort, descending)?)
        .await?;
    let base = caller.url(&format!("/api/webhooks/{id}/deliveries"));
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |attempt| {
            (
                representation::webhook_delivery(attempt),
                attempt.id.to_string(),
            )
        },
    ))
}
