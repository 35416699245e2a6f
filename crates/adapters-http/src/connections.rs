//! `/api/connections`: the identity provider connections. `client_secret`
//! is accepted on create and update and never rendered: responses show
//! `client_secret_set` only.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::connections::{
    ConnectionLookupError, CreateConnection, CreateConnectionError, UpdateConnection,
    UpdateConnectionError,
};
use portcullis_application::representation;
use portcullis_domain::ConnectionId;
use portcullis_ports::store::UnitOfWork;
use secrecy::SecretString;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 7] = [
    "strategy",
    "display_name",
    "client_id",
    "client_secret",
    "scopes",
    "discovery_url",
    "enforce_sso",
];
const READ_ONLY: [&str; 3] = ["client_secret_set", "created_at", "updated_at"];
/// Members that may not be `null` (`discovery_url` may: it removes the URL).
const NOT_NULL: [&str; 6] = [
    "strategy",
    "display_name",
    "client_id",
    "client_secret",
    "scopes",
    "enforce_sso",
];

fn connection_id(raw: &str) -> Result<ConnectionId, ApiError> {
    ConnectionId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no connection with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such connection")
}

impl From<CreateConnectionError> for ApiError {
    fn from(error: CreateConnectionError) -> Self {
        match error {
            CreateConnectionError::Invalid(list) => violations(list),
            err @ CreateConnectionError::Crypto(_) => ApiError::internal(&err),
            CreateConnectionError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateConnectionError> for ApiError {
    fn from(error: UpdateConnectionError) -> Self {
        match error {
            UpdateConnectionError::NotFound => not_found(),
            UpdateConnectionError::Invalid(list) => violations(list),
            err @ UpdateConnectionError::Crypto(_) => ApiError::internal(&err),
            UpdateConnectionError::Store(store) => store.into(),
        }
    }
}

impl From<ConnectionLookupError> for ApiError {
    fn from(error: ConnectionLookupError) -> Self {
        match error {
            ConnectionLookupError::NotFound => not_found(),
            ConnectionLookupError::Store(store) => store.into(),
        }
    }
}

/// Refuses read-only, unknown and forbidden-`null` members.
fn check_members(attributes: &Attributes) -> Result<(), ApiError> {
    attributes.check_members(&WRITABLE, &READ_ONLY, &NOT_NULL)
}

fn secret(attributes: &Attributes) -> Result<Option<SecretString>, ApiError> {
    Ok(attributes.string("client_secret")?.map(SecretString::from))
}

/// `POST /api/connections`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("connections:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "connection", Expect::Create, false)?;
    check_members(&attributes)?;
    let command = CreateConnection {
        strategy: attributes.string("strategy")?,
        display_name: attributes.string("display_name")?,
        client_id: attributes.string("client_id")?,
        client_secret: secret(&attributes)?,
        scopes: attributes.string("scopes")?,
        discovery_url: attributes.nullable_string("discovery_url")?.flatten(),
        enforce_sso: attributes.boolean("enforce_sso")?,
    };
    let connection = state.connections.create(&actor, command).await?;
    let link = caller.url(&format!("/api/connections/{}", connection.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::connection(&connection),
        &link,
    ))
}

/// `GET /api/connections/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("connections:read")?;
    let connection = state.connections.get(&actor, connection_id(&path)?).await?;
    let link = caller.url(&format!("/api/connections/{}", connection.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::connection(&connection),
        &link,
    ))
}

/// `GET /api/connections`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("connections:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .connections
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/connections");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |connection| {
            (
                representation::connection(connection),
                connection.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/connections/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("connections:write")?;
    let id = connection_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "connection", Expect::Update(&path), false)?;
    check_members(&attributes)?;
    let command = UpdateConnection {
        strategy: attributes.string("strategy")?,
        display_name: attributes.string("display_name")?,
        client_id: attributes.string("client_id")?,
        client_secret: secret(&attributes)?,
        scopes: attributes.string("scopes")?,
        discovery_url: attributes.nullable_string("discovery_url")?,
        enforce_sso: attributes.boolean("enforce_sso")?,
    };
    let connection = state.connections.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/connections/{}", connection.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::connection(&connection),
        &link,
    ))
}

/// `DELETE /api/connections/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("connections:delete")?;
    state
        .connections
        .delete(&actor, connection_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
