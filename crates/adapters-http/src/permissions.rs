//! `/api/permissions`: the permissions collection.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::permissions::{
    CreatePermission, CreatePermissionError, PermissionLookupError, UpdatePermission,
    UpdatePermissionError,
};
use portcullis_application::representation;
use portcullis_domain::PermissionId;
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
        "another permission of this environment has this name",
    )
    .at("/data/attributes/name")
}

fn permission_id(raw: &str) -> Result<PermissionId, ApiError> {
    PermissionId::parse(raw)
        .map_err(|_| ApiError::not_found(format!("no permission with id `{raw}`")))
}

impl From<CreatePermissionError> for ApiError {
    fn from(error: CreatePermissionError) -> Self {
        match error {
            CreatePermissionError::Invalid(list) => violations(list),
            CreatePermissionError::NameTaken => name_taken(),
            CreatePermissionError::Store(store) => store.into(),
        }
    }
}

impl From<UpdatePermissionError> for ApiError {
    fn from(error: UpdatePermissionError) -> Self {
        match error {
            UpdatePermissionError::NotFound => ApiError::not_found("no such permission"),
            UpdatePermissionError::Invalid(list) => violations(list),
            UpdatePermissionError::NameTaken => name_taken(),
            UpdatePermissionError::Store(store) => store.into(),
        }
    }
}

impl From<PermissionLookupError> for ApiError {
    fn from(error: PermissionLookupError) -> Self {
        match error {
            PermissionLookupError::NotFound => ApiError::not_found("no such permission"),
            PermissionLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/permissions`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("permissions:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "permission", Expect::Create, false)?;
    attributes.only(&WRITABLE)?;
    let name = attributes.string("name")?.ok_or_else(|| {
        ApiError::invalid("name_required", "name is required").at("/data/attributes/name")
    })?;
    let command = CreatePermission {
        name,
        description: attributes.nullable_string("description")?.flatten(),
    };
    let permission = state.permissions.create(&actor, command).await?;
    let link = caller.url(&format!("/api/permissions/{}", permission.id));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::permission(&permission),
        &link,
    ))
}

/// `GET /api/permissions/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("permissions:read")?;
    let permission = state.permissions.get(&actor, permission_id(&path)?).await?;
    let link = caller.url(&format!("/api/permissions/{}", permission.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::permission(&permission),
        &link,
    ))
}

/// `GET /api/permissions`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("permissions:read")?;
    let query = ListQuery::parse(request.query_string(), &[])?;
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = state
        .permissions
        .list(&actor, query.page(sort, descending)?)
        .await?;
    let base = caller.url("/api/permissions");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |permission| {
            (
                representation::permission(permission),
                permission.id.to_string(),
            )
        },
    ))
}

/// `PATCH /api/permissions/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("permissions:write")?;
    let id = permission_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "permission", Expect::Update(&path), false)?;
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
    let command = UpdatePermission {
        name: attributes.string("name")?,
        description: attributes.string("description")?,
    };
    let permission = state.permissions.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/permissions/{}", permission.id));
    Ok(resource_response(
        StatusCode::OK,
        representation::permission(&permission),
        &link,
    ))
}

/// `DELETE /api/permissions/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("permissions:delete")?;
    state
        .permissions
        .delete(&actor, permission_id(&path)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
