//! `/api/users`: the users collection.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::representation;
use portcullis_application::users::{
    CreateUser, CreateUserError, ListUsers, UpdateUser, UpdateUserError, UserLookupError,
};
use portcullis_domain::UserId;
use portcullis_ports::store::UnitOfWork;

use crate::error::{ApiError, violations};
use crate::jsonapi::{Expect, read_resource, resource_response};
use crate::query::{ListQuery, email_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

const WRITABLE: [&str; 8] = [
    "email",
    "first_name",
    "last_name",
    "password",
    "password_confirmation",
    "email_verified",
    "blocked",
    "metadata",
];

/// The filters of the listing.
pub(crate) const FILTERS: [&str; 3] = ["email", "search", "blocked"];
/// The sort keys of the listing.
pub(crate) const SORTS: [&str; 2] = ["created_at", "email"];

fn email_taken() -> ApiError {
    ApiError::conflict(
        "email_taken",
        "another user of this environment has this email",
    )
    .at("/data/attributes/email")
}

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| ApiError::not_found(format!("no user with id `{raw}`")))
}

impl From<CreateUserError> for ApiError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::Invalid(list) => violations(list),
            CreateUserError::EmailTaken => email_taken(),
            CreateUserError::Store(store) => store.into(),
            err @ CreateUserError::Crypto(_) => ApiError::internal(&err),
        }
    }
}

impl From<UpdateUserError> for ApiError {
    fn from(error: UpdateUserError) -> Self {
        match error {
            UpdateUserError::NotFound => ApiError::not_found("no such user"),
            UpdateUserError::Invalid(list) => violations(list),
            UpdateUserError::EmailTaken => email_taken(),
            UpdateUserError::Store(store) => store.into(),
            err @ UpdateUserError::Crypto(_) => ApiError::internal(&err),
        }
    }
}

impl From<UserLookupError> for ApiError {
    fn from(error: UserLookupError) -> Self {
        match error {
            UserLookupError::NotFound => ApiError::not_found("no such user"),
            UserLookupError::Store(store) => store.into(),
        }
    }
}

/// `POST /api/users`.
pub async fn create<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:write")?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "user", Expect::Create, false)?;
    attributes.only(&WRITABLE)?;
    let email = attributes.string("email")?.ok_or_else(|| {
        ApiError::invalid("email_required", "email is required").at("/data/attributes/email")
    })?;
    let command = CreateUser {
        email,
        first_name: attributes.nullable_string("first_name")?.flatten(),
        last_name: attributes.nullable_string("last_name")?.flatten(),
        password: attributes.string("password")?,
        password_confirmation: attributes.string("password_confirmation")?,
        email_verified: attributes.boolean("email_verified")?.unwrap_or(false),
        blocked: attributes.boolean("blocked")?.unwrap_or(false),
        metadata: attributes.object_text("metadata")?,
    };
    let user = state.users.create(&actor, command).await?;
    let link = caller.url(&format!("/api/users/{}", user.id()));
    Ok(resource_response(
        StatusCode::CREATED,
        representation::user(&user),
        &link,
    ))
}

/// `GET /api/users/{id}`.
pub async fn get<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:read")?;
    let user = state.users.get(&actor, user_id(&path)?).await?;
    let link = caller.url(&format!("/api/users/{}", user.id()));
    Ok(resource_response(
        StatusCode::OK,
        representation::user(&user),
        &link,
    ))
}

/// `GET /api/users`.
pub async fn list<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:read")?;
    let query = ListQuery::parse(request.query_string(), &FILTERS)?;
    let (sort, descending) = query.sort(&SORTS)?;
    let command = ListUsers {
        email: email_filter(&query)?,
        search: query.filter("search").map(str::to_owned),
        blocked: query.bool_filter("blocked")?,
        sort_by_email: sort == "email",
        page: query.page(sort, descending)?,
    };
    let page = state.users.list(&actor, command).await?;
    let base = caller.url("/api/users");
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |user| (representation::user(user), user.id().to_string()),
    ))
}

/// `PATCH /api/users/{id}`.
pub async fn update<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:write")?;
    let id = user_id(&path)?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let attributes = read_resource(&request, &body, "user", Expect::Update(&path), false)?;
    attributes.only(&WRITABLE)?;
    for required in [
        "email",
        "email_verified",
        "blocked",
        "password",
        "password_confirmation",
        "metadata",
    ] {
        if attributes.has(required) && attributes.nullable_string(required).ok() == Some(Some(None))
        {
            return Err(ApiError::invalid(
                "null_not_allowed",
                format!("{required} cannot be null"),
            )
            .at(format!("/data/attributes/{required}")));
        }
    }
    let command = UpdateUser {
        email: attributes.string("email")?,
        first_name: attributes.nullable_string("first_name")?,
        last_name: attributes.nullable_string("last_name")?,
        password: attributes.string("password")?,
        password_confirmation: attributes.string("password_confirmation")?,
        email_verified: attributes.boolean("email_verified")?,
        blocked: attributes.boolean("blocked")?,
        metadata: attributes.object_text("metadata")?,
    };
    let user = state.users.update(&actor, id, command).await?;
    let link = caller.url(&format!("/api/users/{}", user.id()));
    Ok(resource_response(
        StatusCode::OK,
        representation::user(&user),
        &link,
    ))
}

/// `DELETE /api/users/{id}`.
pub async fn delete<U: UnitOfWork>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require("users:delete")?;
    state.users.delete(&actor, user_id(&path)?).await?;
    Ok(HttpResponse::NoContent().finish())
}
