//! `/api/scopes`: the scopes of resource servers (guarded by the
//! `resource_servers` scopes). A scope names its resource server as a
//! relationship on create, which it keeps for life; the system resource
//! server's scopes are `403` to every change.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::scopes::{
    CreateScope, CreateScopeError, ScopeFilter, ScopeLookupError, UpdateScope, UpdateScopeError,
};
use portcullis_domain::{ResourceServerId, ScopeId};
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Expect, read_resource_with, resource_response};
use crate::query::{ListQuery, page_response};
use crate::resource_servers::system_resource_server;
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "scope";
const WRITABLE: [&str; 2] = ["name", "description"];
pub(crate) const RELATIONSHIPS: [&str; 1] = ["resource_server"];
const LINKAGE: &str = "/data/relationships/resource_server/data";

fn name_taken() -> ApiError {
    ApiError::conflict(
        "name_taken",
        "another scope of this resource server has this name",
    )
    .at("/data/attributes/name")
}

fn unknown_resource_server(detail: String) -> ApiError {
    ApiError::invalid("invalid_relationship", detail).at(LINKAGE)
}

fn scope_id(raw: &str) -> Result<ScopeId, ApiError> {
    ScopeId::parse(raw).map_err(|_| ApiError::not_found(format!("no scope with id `{raw}`")))
}

impl From<CreateScopeError> for ApiError {
    fn from(error: CreateScopeError) -> Self {
        match error {
            CreateScopeError::Invalid(list) => violations(list),
            CreateScopeError::UnknownResourceServer => {
                unknown_resource_server("no such resource server in this environment".into())
            }
            CreateScopeError::System => system_resource_server(),
            CreateScopeError::NameTaken => name_taken(),
            CreateScopeError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateScopeError> for ApiError {
    fn from(error: UpdateScopeError) -> Self {
        match error {
            UpdateScopeError::NotFound => ApiError::not_found("no such scope"),
            UpdateScopeError::Invalid(list) => violations(list),
            UpdateScopeError::ResourceServerFixed => ApiError::invalid(
                "resource_server_immutable",
                "a scope cannot move to another resource server",
            )
            .at(LINKAGE),
            UpdateScopeError::System => system_resource_server(),
            UpdateScopeError::NameTaken => name_taken(),
            UpdateScopeError::Store(store) => store.into(),
        }
    }
}

impl From<ScopeLookupError> for ApiError {
    fn from(error: ScopeLookupError) -> Self {
        match error {
            ScopeLookupError::NotFound => ApiError::not_found("no such scope"),
            ScopeLookupError::System => system_resource_server(),
            ScopeLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/scopes`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    document.only(&WRITABLE)?;
    let name = document.string("name")?.ok_or_else(|| {
        ApiError::invalid("name_required", "name is required").at("/data/attributes/name")
    })?;
    let raw = document
        .relationship("resource_server", "resource_server")?
        .ok_or_else(|| {
            ApiError::invalid(
                "relationship_required",
                "relationship `resource_server` is required",
            )
            .at("/data/relationships/resource_server")
        })?;
    let resource_server = ResourceServerId::parse(&raw)
        .map_err(|_| unknown_resource_server(format!("no resource_server with id `{raw}`")))?;
    let command = CreateScope {
        name,
        description: document.nullable_string("description")?.flatten(),
        resource_server,
    };
    let scope = state.scopes.create(&actor, command).await?;
    let link = caller.url(&format!("/api/scopes/{}", scope.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::scope(&scope),
        &link,
    ))
}

/// `GET /api/scopes/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:read")?;
    let scope = state.scopes.get(&actor, scope_id(&path)?).await?;
    let link = caller.url(&format!("/api/scopes/{}", scope.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::scope(&scope),
        &link,
    ))
}

/// `GET /api/scopes`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:read")?;
    let query = ListQuery::parse(request.query_string(), &RELATIONSHIPS)?;
    let resource_server = query
        .filter("resource_server")
        .map(|raw| {
            ResourceServerId::parse(raw).map_err(|_| {
                ApiError::bad_request(
                    "invalid_query_parameter",
                    format!("filter[resource_server] must be an id, not `{raw}`"),
                )
                .param("filter[resource_server]")
            })
        })
        .transpose()?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .scopes
        .list(
            &actor,
            ScopeFilter { resource_server },
            query.page(sort, descending)?,
        )
        .await?;
    let base = caller.url("/api/scopes");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |scope| (representation::scope(scope), scope.id.to_string()),
    ))
}

/// `PATCH /api/scopes/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:write")?;
    let id = scope_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document = read_resource_with(
        &request,
        &body,
        KIND,
        Expect::Update(&path),
        false,
        &RELATIONSHIPS,
    )?;
    document.only(&WRITABLE)?;
    for name in WRITABLE {
        if document.has(name) && document.nullable_string(name).ok() == Some(Some(None)) {
            return Err(
                ApiError::invalid("null_not_allowed", format!("{name} cannot be null"))
                    .at(format!("/data/attributes/{name}")),
            );
        }
    }
    let resource_server = if document.has_relationship("resource_server") {
        // `{"data": null}` names no resource server: a move as well.
        Some(
            document
                .relationship("resource_server", "resource_server")?
                .unwrap_or_default(),
        )
    } else {
        None
    };
    let command = UpdateScope {
        name: document.string("name")?,
        description: document.string("description")?,
        resource_server,
    };
    let scope = state.scopes.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/scopes/{}", scope.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::scope(&scope),
        &link,
    ))
}

/// `DELETE /api/scopes/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("resource_servers:delete")?;
    state.scopes.delete(&actor, scope_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
