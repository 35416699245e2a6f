//! `/api/resource-servers`: the APIs that accept access tokens. The
//! identifier is fixed after creation (`422` on another value); the system
//! resource server (the Management API) is `403` to every change.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::resource_servers::{
    CreateResourceServer, CreateResourceServerError, ResourceServerLookupError,
    UpdateResourceServer, UpdateResourceServerError,
};
use portcullis_domain::ResourceServerId;
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Attributes, Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "resource_server";
const WRITABLE: [&str; 3] = ["name", "identifier", "token_lifetime"];

/// `403`: the system resource server (or one of its scopes) cannot change.
pub(crate) fn system_resource_server() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "system_resource_server",
        "Forbidden",
        "the system resource server (the Management API) and its scopes cannot be changed",
    )
}

fn identifier_taken() -> ApiError {
    ApiError::conflict(
        "identifier_taken",
        "another resource server of this environment has this identifier",
    )
    .at("/data/attributes/identifier")
}

fn resource_server_id(raw: &str) -> Result<ResourceServerId, ApiError> {
    ResourceServerId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no resource server with id `{raw}`")))
}

fn not_found() -> ApiError {
    ApiError::not_found("no such resource server")
}

impl From<CreateResourceServerError> for ApiError {
    fn from(error: CreateResourceServerError) -> Self {
        match error {
            CreateResourceServerError::Invalid(list) => violations(list),
            CreateResourceServerError::IdentifierTaken => identifier_taken(),
            CreateResourceServerError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateResourceServerError> for ApiError {
    fn from(error: UpdateResourceServerError) -> Self {
        match error {
            UpdateResourceServerError::NotFound => not_found(),
            UpdateResourceServerError::Invalid(list) => violations(list),
            UpdateResourceServerError::System => system_resource_server(),
            UpdateResourceServerError::Store(store) => store.into(),
        }
    }
}

impl From<ResourceServerLookupError> for ApiError {
    fn from(error: ResourceServerLookupError) -> Self {
        match error {
            ResourceServerLookupError::NotFound => not_found(),
            ResourceServerLookupError::System => system_resource_server(),
            ResourceServerLookupError::Store(store) => store.into(),
        }
    }
}

fn required_string(attributes: &Attributes, name: &str) -> Result<String, ApiError> {
    attributes.string(name)?.ok_or_else(|| {
        ApiError::invalid(&format!("{name}_required"), format!("{name} is required"))
            .at(format!("/data/attributes/{name}"))
    })
}

/// `POST /api/resource-servers`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, KIND, Expect::Create, false)?;
    attributes.only(&WRITABLE)?;
    let command = CreateResourceServer {
        name: required_string(&attributes, "name")?,
        identifier: required_string(&attributes, "identifier")?,
        token_lifetime: attributes.integer("token_lifetime")?,
    };
    let server = state.resource_servers.create(&actor, command).await?;
    let link = caller.url(&format!("/api/resource-servers/{}", server.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::resource_server(&server),
        &link,
    ))
}

/// `GET /api/resource-servers/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:read")?;
    let server = state
        .resource_servers
        .get(&actor, resource_server_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/resource-servers/{}", server.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::resource_server(&server),
        &link,
    ))
}

/// `GET /api/resource-servers`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .resource_servers
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/resource-servers");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |server| {
            (
                representation::resource_server(server),
                server.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/resource-servers/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:write")?;
    let id = resource_server_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, KIND, Expect::Update(&path), false)?;
    attributes.only(&WRITABLE)?;
    for name in ["name", "identifier"] {
        if attributes.has(name) && attributes.nullable_string(name).ok() == Some(Some(None)) {
            return Err(
                ApiError::invalid("null_not_allowed", format!("{name} cannot be null"))
                    .at(format!("/data/attributes/{name}")),
            );
        }
    }
    let command = UpdateResourceServer {
        name: attributes.string("name")?,
        identifier: attributes.string("identifier")?,
        token_lifetime: attributes.integer("token_lifetime")?,
    };
    let server = state.resource_servers.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/resource-servers/{}", server.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::resource_server(&server),
        &link,
    ))
}

/// `DELETE /api/resource-servers/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:delete")?;
    state
        .resource_servers
        .delete(&actor, resource_server_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
