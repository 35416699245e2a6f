//! `/api/client-grants`: the resource servers a client may get tokens for,
//! and which of their scopes (join resources guarded by the `clients`
//! scopes). The request names both ends as relationships, required on
//! create and fixed afterwards; an end unknown in the caller's environment
//! is `422 invalid_relationship` at its linkage, a pair granted twice is
//! `409 duplicate`, an `allowed_scopes` entry that is not a scope of the
//! resource server is `422` at that entry. A caller cannot delete or
//! narrow its own Management API grant: `409 self_lockout`; nor grant, on
//! the Management API, a scope its own token does not carry (creating or
//! widening, for itself or another client): `403 scope_not_held` at that
//! entry.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::client_grants::{
    ClientGrantFilter, ClientGrantLookupError, CreateClientGrant, CreateClientGrantError,
    DeleteClientGrantError, ScopeNotHeld, UpdateClientGrant, UpdateClientGrantError,
};
use portcullis_application::representation;
use portcullis_domain::{ClientGrantId, ClientId, ResourceServerId};
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{
    Attributes, Expect, invalid_relationship, read_resource_with,
    required_relationship as required, resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "client_grant";
const WRITABLE: [&str; 1] = ["allowed_scopes"];
pub(crate) const RELATIONSHIPS: [&str; 2] = ["client", "resource_server"];

fn client_grant_id(raw: &str) -> Result<ClientGrantId, ApiError> {
    ClientGrantId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no client grant with id `{raw}`")))
}

fn immutable(name: &str) -> ApiError {
    ApiError::invalid(
        &format!("{name}_immutable"),
        format!("a grant's {name} cannot change"),
    )
    .at(format!("/data/relationships/{name}/data"))
}

/// `403 scope_not_held` at the offending `allowed_scopes` entry.
fn not_held(unheld: &ScopeNotHeld) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "scope_not_held",
        "Forbidden",
        format!(
            "the Management API scope `{}` cannot be granted by a caller whose token does not carry it",
            unheld.scope
        ),
    )
    .at(format!("/data/attributes/allowed_scopes/{}", unheld.index))
}

fn self_lockout(detail: &str) -> ApiError {
    ApiError::conflict("self_lockout", detail)
}

impl From<CreateClientGrantError> for ApiError {
    fn from(error: CreateClientGrantError) -> Self {
        match error {
            CreateClientGrantError::Invalid(list) => violations(list),
            CreateClientGrantError::UnknownClient => {
                invalid_relationship("client", "no such client in this environment".into())
            }
            CreateClientGrantError::UnknownResourceServer => invalid_relationship(
                "resource_server",
                "no such resource server in this environment".into(),
            ),
            CreateClientGrantError::Duplicate => ApiError::conflict(
                "duplicate",
                "the client already has a grant for this resource server",
            )
            .at("/data/relationships"),
            CreateClientGrantError::NotHeld(unheld) => not_held(&unheld),
            CreateClientGrantError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateClientGrantError> for ApiError {
    fn from(error: UpdateClientGrantError) -> Self {
        match error {
            UpdateClientGrantError::NotFound => ApiError::not_found("no such client grant"),
            UpdateClientGrantError::Invalid(list) => violations(list),
            UpdateClientGrantError::ClientFixed => immutable("client"),
            UpdateClientGrantError::ResourceServerFixed => immutable("resource_server"),
            UpdateClientGrantError::SelfLockout => {
                self_lockout("a client cannot narrow its own Management API grant")
                    .at("/data/attributes/allowed_scopes")
            }
            UpdateClientGrantError::NotHeld(unheld) => not_held(&unheld),
            UpdateClientGrantError::Store(store) => store.into(),
        }
    }
}

impl From<DeleteClientGrantError> for ApiError {
    fn from(error: DeleteClientGrantError) -> Self {
        match error {
            DeleteClientGrantError::NotFound => ApiError::not_found("no such client grant"),
            DeleteClientGrantError::SelfLockout => {
                self_lockout("a client cannot delete its own Management API grant")
            }
            DeleteClientGrantError::Store(store) => store.into(),
        }
    }
}

impl From<ClientGrantLookupError> for ApiError {
    fn from(error: ClientGrantLookupError) -> Self {
        match error {
            ClientGrantLookupError::NotFound => ApiError::not_found("no such client grant"),
            ClientGrantLookupError::Store(store) => store.into(),
        }
    }
}

/// The id a PATCH names for relationship `name`, if it names one
/// (`{"data": null}` names none: a change as well).
fn named(document: &Attributes, name: &str) -> Result<Option<String>, ApiError> {
    if !document.has_relationship(name) {
        return Ok(None);
    }
    Ok(Some(document.relationship(name, name)?.unwrap_or_default()))
}

/// `POST /api/client-grants`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    document.only(&WRITABLE)?;
    let command = CreateClientGrant {
        client: required(&document, "client", "client", ClientId::parse)?,
        resource_server: required(
            &document,
            "resource_server",
            "resource_server",
            ResourceServerId::parse,
        )?,
        allowed_scopes: document.string_list("allowed_scopes")?,
    };
    let grant = state.client_grants.create(&actor, command).await?;
    let link = caller.url(&format!("/api/client-grants/{}", grant.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::client_grant(&grant),
        &link,
    ))
}

/// `GET /api/client-grants/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:read")?;
    let grant = state
        .client_grants
        .get(&actor, client_grant_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/client-grants/{}", grant.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::client_grant(&grant),
        &link,
    ))
}

/// `GET /api/client-grants`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:read")?;
    let query = ListQuery::parse(request.query_string(), &RELATIONSHIPS)?;
    let filter = ClientGrantFilter {
        client: id_filter(&query, "client", ClientId::parse)?,
        resource_server: id_filter(&query, "resource_server", ResourceServerId::parse)?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .client_grants
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/client-grants");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |grant| (representation::client_grant(grant), grant.id.to_string()),
    ))
}

/// `PATCH /api/client-grants/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:write")?;
    let id = client_grant_id(&path)?;
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
    let command = UpdateClientGrant {
        allowed_scopes: document.string_list("allowed_scopes")?,
        client: named(&document, "client")?,
        resource_server: named(&document, "resource_server")?,
    };
    let grant = state.client_grants.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/client-grants/{}", grant.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::client_grant(&grant),
        &link,
    ))
}

/// `DELETE /api/client-grants/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("clients:delete")?;
    state
        .client_grants
        .delete(&actor, client_grant_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
