//! `/api/user-roles`: roles granted to users (join resources,
//! guarded by the `users` scopes). The request names both ends as
//! relationships; an end that is unknown in the caller's environment is
//! `422 invalid_relationship` pointing at its linkage, a pair granted twice
//! is `409 duplicate`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::user_roles::{
    CreateUserRoleError, UserRoleFilter, UserRoleLookupError,
};
use portcullis_domain::{RoleId, UserId, UserRoleId};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::jsonapi::{
    Expect, invalid_relationship, read_resource_with, required_relationship as required,
    resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const KIND: &str = "user_role";
const RELATIONSHIPS: [&str; 2] = ["user", "role"];

fn user_role_id(raw: &str) -> Result<UserRoleId, ApiError> {
    UserRoleId::parse(raw).map_err(|_| ApiError::not_found(format!("no user role with id `{raw}`")))
}

impl From<CreateUserRoleError> for ApiError {
    fn from(error: CreateUserRoleError) -> Self {
        match error {
            CreateUserRoleError::UnknownUser => {
                invalid_relationship("user", "no such user in this environment".into())
            }
            CreateUserRoleError::UnknownRole => {
                invalid_relationship("role", "no such role in this environment".into())
            }
            CreateUserRoleError::Duplicate => {
                ApiError::conflict("duplicate", "the user already has this role")
                    .at("/data/relationships")
            }
            CreateUserRoleError::Store(store) => store.into(),
        }
    }
}

impl From<UserRoleLookupError> for ApiError {
    fn from(error: UserRoleLookupError) -> Self {
        match error {
            UserRoleLookupError::NotFound => ApiError::not_found("no such user role"),
            UserRoleLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/user-roles`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document =
        read_resource_with(&request, &body, KIND, Expect::Create, false, &RELATIONSHIPS)?;
    document.only(&[])?;
    let user = required(&document, "user", "user", UserId::parse)?;
    let role = required(&document, "role", "role", RoleId::parse)?;
    let join = state.user_roles.create(&actor, user, role).await?;
    let link = caller.url(&format!("/api/user-roles/{}", join.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::user_role(&join),
        &link,
    ))
}

/// `GET /api/user-roles/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:read")?;
    let join = state.user_roles.get(&actor, user_role_id(&path)?).await?;
    let link = caller.url(&format!("/api/user-roles/{}", join.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::user_role(&join),
        &link,
    ))
}

/// `GET /api/user-roles`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:read")?;
    let query = ListQuery::parse(request.query_string(), &RELATIONSHIPS)?;
    let filter = UserRoleFilter {
        user: id_filter(&query, "user", UserId::parse)?,
        role: id_filter(&query, "role", RoleId::parse)?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .user_roles
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/user-roles");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |join| (representation::user_role(join), join.id.to_string()),
    ))
}

/// `DELETE /api/user-roles/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:delete")?;
    state
        .user_roles
        .delete(&actor, user_role_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
