//! `/api/role-permissions`: permissions granted to roles (join resources,
//! guarded by the `roles` scopes). The request names both ends as
//! relationships; an end that is unknown in the caller's environment is
//! `422 invalid_relationship` pointing at its linkage, a pair granted twice
//! is `409 duplicate`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::role_permissions::{
    CreateRolePermissionError, RolePermissionFilter, RolePermissionLookupError,
};
use portcullis_domain::{PermissionId, RoleId, RolePermissionId};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::jsonapi::{
    Expect, invalid_relationship, read_resource_with, required_relationship as required,
    resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "role_permission";
const RELATIONSHIPS: [&str; 2] = ["role", "permission"];

fn role_permission_id(raw: &str) -> Result<RolePermissionId, ApiError> {
    RolePermissionId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no role permission with id `{raw}`")))
}

impl From<CreateRolePermissionError> for ApiError {
    fn from(error: CreateRolePermissionError) -> Self {
        match error {
            CreateRolePermissionError::UnknownRole => {
                invalid_relationship("role", "no such role in this environment".into())
            }
            CreateRolePermissionError::UnknownPermission => invalid_relationship(
                "permission",
                "no such permission in this environment".into(),
            ),
            CreateRolePermissionError::Duplicate => {
                ApiError::conflict("duplicate", "the role already has this permission")
                    .at("/data/relationships")
            }
            CreateRolePermissionError::Store(store) => store.into(),
        }
    }
}

impl From<RolePermissionLookupError> for ApiError {
    fn from(error: RolePermissionLookupError) -> Self {
        match error {
            RolePermissionLookupError::NotFound => ApiError::not_found("no such role permission"),
            RolePermissionLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/role-permissions`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    document.only(&[])?;
    let role = required(&document, "role", "role", RoleId::parse)?;
    let permission = required(&document, "permission", "permission", PermissionId::parse)?;
    let join = state
        .role_permissions
        .create(&actor, role, permission)
        .await?;
    let link = caller.url(&format!("/api/role-permissions/{}", join.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::role_permission(&join),
        &link,
    ))
}

/// `GET /api/role-permissions/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:read")?;
    let join = state
        .role_permissions
        .get(&actor, role_permission_id(&path)?)
        .await?;
    let link = caller.url(&format!("/api/role-permissions/{}", join.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::role_permission(&join),
        &link,
    ))
}

/// `GET /api/role-permissions`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:read")?;
    let query = ListQuery::parse(request.query_string(), &RELATIONSHIPS)?;
    let filter = RolePermissionFilter {
        role: id_filter(&query, "role", RoleId::parse)?,
        permission: id_filter(&query, "permission", PermissionId::parse)?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .role_permissions
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/role-permissions");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |join| (representation::role_permission(join), join.id.to_string()),
    ))
}

/// `DELETE /api/role-permissions/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:delete")?;
    state
        .role_permissions
        .delete(&actor, role_permission_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
