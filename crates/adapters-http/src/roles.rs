//! `/api/roles`: the roles collection.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::roles::{
    CreateRole, CreateRoleError, RoleLookupError, UpdateRole, UpdateRoleError,
};
use portcullis_domain::RoleId;
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Expect, read_resource, resource_response};
use crate::query::{ListQuery, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 2] = ["name", "description"];

fn name_taken() -> ApiError {
    ApiError::conflict(
        "name_taken",
        "another role of this environment has this name",
    )
    .at("/data/attributes/name")
}

fn role_id(raw: &str) -> Result<RoleId, ApiError> {
    RoleId::parse(raw).map_err(|_| ApiError::not_found(format!("no role with id `{raw}`")))
}

impl From<CreateRoleError> for ApiError {
    fn from(error: CreateRoleError) -> Self {
        match error {
            CreateRoleError::Invalid(list) => violations(list),
            CreateRoleError::NameTaken => name_taken(),
            CreateRoleError::Store(store) => store.into(),
        }
    }
}

impl From<UpdateRoleError> for ApiError {
    fn from(error: UpdateRoleError) -> Self {
        match error {
            UpdateRoleError::NotFound => ApiError::not_found("no such role"),
            UpdateRoleError::Invalid(list) => violations(list),
            UpdateRoleError::NameTaken => name_taken(),
            UpdateRoleError::Store(store) => store.into(),
        }
    }
}

impl From<RoleLookupError> for ApiError {
    fn from(error: RoleLookupError) -> Self {
        match error {
            RoleLookupError::NotFound => ApiError::not_found("no such role"),
            RoleLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/roles`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "role", Expect::Create, false)?;
    attributes.only(&WRITABLE)?;
    let name = attributes.string("name")?.ok_or_else(|| {
        ApiError::invalid("name_required", "name is required").at("/data/attributes/name")
    })?;
    let command = CreateRole {
        name,
        description: attributes.nullable_string("description")?.flatten(),
    };
    let role = state.roles.create(&actor, command).await?;
    let link = caller.url(&format!("/api/roles/{}", role.role.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::role(&role),
        &link,
    ))
}

/// `GET /api/roles/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:read")?;
    let role = state.roles.get(&actor, role_id(&path)?).await?;
    let link = caller.url(&format!("/api/roles/{}", role.role.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::role(&role),
        &link,
    ))
}

/// `GET /api/roles`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .roles
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/roles");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |role| (representation::role(role), role.role.id.to_string()),
    ))
}

/// `PATCH /api/roles/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:write")?;
    let id = role_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "role", Expect::Update(&path), false)?;
    attributes.only(&WRITABLE)?;
    for required in WRITABLE {
        if attributes.has(required) && attributes.nullable_string(required).ok() == Some(Some(None))
        {
            return Err(ApiError::invalid(
                "null_not_allowed",
                format!("{required} cannot be null"),
            )
            .at(format!("/data/attributes/{required}")));
        }
    }
    let command = UpdateRole {
        name: attributes.string("name")?,
        description: attributes.string("description")?,
    };
    let role = state.roles.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/roles/{}", role.role.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::role(&role),
        &link,
    ))
}

/// `DELETE /api/roles/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("roles:delete")?;
    state.roles.delete(&actor, role_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
