//! Join collections over HTTP (`/api/role-permissions`, `/api/user-roles`):
//! one set of handlers, generic over the join. The request names both ends
//! as relationships; an end unknown in the caller's environment is
//! `422 invalid_relationship` pointing at its linkage, a pair linked twice
//! is `409 duplicate`. A join is guarded by its parent collection's scopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use portcullis_application::joins::{
    CreateJoinError, JoinFilter, JoinKind, JoinLookupError, JoinService,
};
use portcullis_application::role_permissions::RolePermissions;
use portcullis_application::user_roles::UserRoles;
use portcullis_domain::{IdError, PermissionId, RoleId, UserId};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::jsonapi::{
    Expect, invalid_relationship, read_resource_with, required_relationship as required,
    resource_response,
};
use crate::query::{ListQuery, id_filter, page_response};
use crate::state::AppState;
use crate::tenancy::authenticate;

/// One end of a join: its relationship name (also its JSON:API type and
/// its filter name) and how its id is parsed.
pub(crate) struct End<T> {
    name: &'static str,
    parse: fn(&str) -> Result<T, IdError>,
}

/// What the HTTP layer needs to know of a join collection.
pub(crate) trait JoinRoute: JoinKind {
    /// JSON:API type of the join.
    const KIND: &'static str;
    /// The collection's path (`/api/user-roles`).
    const PATH: &'static str;
    /// The collection whose scopes guard it (`users` for `users:read` ...).
    const SCOPE: &'static str;
    /// The first end.
    const LEFT: End<Self::Left>;
    /// The second end.
    const RIGHT: End<Self::Right>;
    /// What the resource is called in messages (`user role`).
    const NOUN: &'static str;
    /// The `409` detail.
    const DUPLICATE: &'static str;

    /// The service of this collection.
    fn service<U: UnitOfWork>(state: &AppState<U>) -> &JoinService<U, Self>
    where
        Self: Sized;
}

impl JoinRoute for UserRoles {
    const KIND: &'static str = "user_role";
    const PATH: &'static str = "/api/user-roles";
    const SCOPE: &'static str = "users";
    const LEFT: End<UserId> = End {
        name: "user",
        parse: UserId::parse,
    };
    const RIGHT: End<RoleId> = End {
        name: "role",
        parse: RoleId::parse,
    };
    const NOUN: &'static str = "user role";
    const DUPLICATE: &'static str = "the user already has this role";

    fn service<U: UnitOfWork>(state: &AppState<U>) -> &JoinService<U, Self> {
        &state.user_roles
    }
}

impl JoinRoute for RolePermissions {
    const KIND: &'static str = "role_permission";
    const PATH: &'static str = "/api/role-permissions";
    const SCOPE: &'static str = "roles";
    const LEFT: End<RoleId> = End {
        name: "role",
        parse: RoleId::parse,
    };
    const RIGHT: End<PermissionId> = End {
        name: "permission",
        parse: PermissionId::parse,
    };
    const NOUN: &'static str = "role permission";
    const DUPLICATE: &'static str = "the role already has this permission";

    fn service<U: UnitOfWork>(state: &AppState<U>) -> &JoinService<U, Self> {
        &state.role_permissions
    }
}

fn join_id<K: JoinRoute>(raw: &str) -> Result<K::Id, ApiError> {
    K::parse_id(raw).ok_or_else(|| ApiError::not_found(format!("no {} with id `{raw}`", K::NOUN)))
}

fn create_error<K: JoinRoute>(error: CreateJoinError) -> ApiError {
    let unknown =
        |name: &str| invalid_relationship(name, format!("no such {name} in this environment"));
    match error {
        CreateJoinError::UnknownLeft => unknown(K::LEFT.name),
        CreateJoinError::UnknownRight => unknown(K::RIGHT.name),
        CreateJoinError::Duplicate => {
            ApiError::conflict("duplicate", K::DUPLICATE).at("/data/relationships")
        }
        CreateJoinError::Store(store) => store.into(),
    }
}

fn lookup_error<K: JoinRoute>(error: JoinLookupError) -> ApiError {
    match error {
        JoinLookupError::NotFound => ApiError::not_found(format!("no such {}", K::NOUN)),
        JoinLookupError::Store(store) => store.into(),
    }
}

pub(crate) fn relationships<K: JoinRoute>() -> [&'static str; 2] {
    [K::LEFT.name, K::RIGHT.name]
}

/// `POST` on the collection.
pub(crate) async fn create<U: UnitOfWork, K: JoinRoute>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require(&format!("{}:write", K::SCOPE))?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let document = read_resource_with(
        &request,
        &body,
        K::KIND,
        Expect::Create,
        false,
        &relationships::<K>(),
    )?;
    document.only(&[])?;
    let left = required(&document, K::LEFT.name, K::LEFT.name, K::LEFT.parse)?;
    let right = required(&document, K::RIGHT.name, K::RIGHT.name, K::RIGHT.parse)?;
    let join = K::service(&state)
        .create(&actor, left, right)
        .await
        .map_err(create_error::<K>)?;
    let link = caller.url(&format!("{}/{}", K::PATH, K::id(&join)));
    Ok(resource_response(
        StatusCode::CREATED,
        K::represent(&join),
        &link,
    ))
}

/// `GET` of one join.
pub(crate) async fn get<U: UnitOfWork, K: JoinRoute>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require(&format!("{}:read", K::SCOPE))?;
    let join = K::service(&state)
        .get(&actor, join_id::<K>(&path)?)
        .await
        .map_err(lookup_error::<K>)?;
    let link = caller.url(&format!("{}/{}", K::PATH, K::id(&join)));
    Ok(resource_response(
        StatusCode::OK,
        K::represent(&join),
        &link,
    ))
}

/// `GET` of the collection, filtered by either end.
pub(crate) async fn list<U: UnitOfWork, K: JoinRoute>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require(&format!("{}:read", K::SCOPE))?;
    let query = ListQuery::parse(request.query_string(), &relationships::<K>())?;
    let filter = JoinFilter {
        left: id_filter(&query, K::LEFT.name, K::LEFT.parse)?,
        right: id_filter(&query, K::RIGHT.name, K::RIGHT.parse)?,
    };
    let (sort, descending) = query.sort(&["created_at"])?;
    let page = K::service(&state)
        .list(&actor, filter, query.page(sort, descending)?)
        .await?;
    let base = caller.url(K::PATH);
    Ok(page_response(
        &query,
        &base,
        (sort, descending),
        page,
        |join| (K::represent(join), K::id(join).to_string()),
    ))
}

/// `DELETE` of one join.
pub(crate) async fn delete<U: UnitOfWork, K: JoinRoute>(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&request, &state).await?;
    let actor = caller.require(&format!("{}:delete", K::SCOPE))?;
    K::service(&state)
        .delete(&actor, join_id::<K>(&path)?)
        .await
        .map_err(lookup_error::<K>)?;
    Ok(HttpResponse::NoContent().finish())
}
