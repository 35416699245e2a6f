//! The route table, shared by the binary and the tests.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, Route, web};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::sessions;
use crate::{
    actions, client_grants, clients, connections, health, joins, oauth, permissions,
    resource_servers, roles, scopes, signing_keys, users, webhooks,
};
use portcullis_application::role_permissions::RolePermissions;
use portcullis_application::user_roles::UserRoles;

fn not_allowed(allow: &'static str) -> Route {
    web::route().to(move || async move {
        Err::<HttpResponse, _>(
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                format!("allowed methods: {allow}"),
            )
            .with_header(actix_web::http::header::ALLOW, allow),
        )
    })
}

/// Registers every route of the server.
pub fn configure<U: UnitOfWork>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/health/live")
            .route(web::get().to(health::live))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/health/ready")
            .route(web::get().to(health::ready::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/oauth/token")
            .route(web::post().to(oauth::token::<U>))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/oauth/introspect")
            .route(web::post().to(oauth::introspect::<U>))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/oauth/revoke")
            .route(web::post().to(oauth::revoke::<U>))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/.well-known/jwks.json")
            .route(web::get().to(oauth::jwks::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/.well-known/openid-configuration")
            .route(web::get().to(oauth::discovery::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/users")
            .route(web::get().to(users::list::<U>))
            .route(web::post().to(users::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/users/{id}")
            .route(web::get().to(users::get::<U>))
            .route(web::patch().to(users::update::<U>))
            .route(web::delete().to(users::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/signing-keys")
            .route(web::get().to(signing_keys::list::<U>))
            .route(web::post().to(signing_keys::generate::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/signing-keys/{id}")
            .route(web::get().to(signing_keys::get::<U>))
            .route(web::delete().to(signing_keys::delete::<U>))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/api/signing-keys/{id}/deactivate")
            .route(web::patch().to(signing_keys::deactivate::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/api/permissions")
            .route(web::get().to(permissions::list::<U>))
            .route(web::post().to(permissions::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/permissions/{id}")
            .route(web::get().to(permissions::get::<U>))
            .route(web::patch().to(permissions::update::<U>))
            .route(web::delete().to(permissions::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/actions")
            .route(web::get().to(actions::list::<U>))
            .route(web::post().to(actions::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/actions/{id}")
            .route(web::get().to(actions::get::<U>))
            .route(web::patch().to(actions::update::<U>))
            .route(web::delete().to(actions::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/actions/{id}/executions")
            .route(web::get().to(actions::executions::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/actions/{id}/executions/{execution_id}")
            .route(web::get().to(actions::execution::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/connections")
            .route(web::get().to(connections::list::<U>))
            .route(web::post().to(connections::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/connections/{id}")
            .route(web::get().to(connections::get::<U>))
            .route(web::patch().to(connections::update::<U>))
            .route(web::delete().to(connections::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/webhooks")
            .route(web::get().to(webhooks::list::<U>))
            .route(web::post().to(webhooks::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/webhooks/{id}")
            .route(web::get().to(webhooks::get::<U>))
            .route(web::patch().to(webhooks::update::<U>))
            .route(web::delete().to(webhooks::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/webhooks/{id}/rotate_secret")
            .route(web::patch().to(webhooks::rotate_secret::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/api/webhooks/{id}/deliveries")
            .route(web::get().to(webhooks::deliveries::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/roles")
            .route(web::get().to(roles::list::<U>))
            .route(web::post().to(roles::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/roles/{id}")
            .route(web::get().to(roles::get::<U>))
            .route(web::patch().to(roles::update::<U>))
            .route(web::delete().to(roles::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/role-permissions")
            .route(web::get().to(joins::list::<U, RolePermissions>))
            .route(web::post().to(joins::create::<U, RolePermissions>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/role-permissions/{id}")
            .route(web::get().to(joins::get::<U, RolePermissions>))
            .route(web::delete().to(joins::delete::<U, RolePermissions>))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/api/user-roles")
            .route(web::get().to(joins::list::<U, UserRoles>))
            .route(web::post().to(joins::create::<U, UserRoles>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/user-roles/{id}")
            .route(web::get().to(joins::get::<U, UserRoles>))
            .route(web::delete().to(joins::delete::<U, UserRoles>))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/api/clients")
            .route(web::get().to(clients::list::<U>))
            .route(web::post().to(clients::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/clients/{id}")
            .route(web::get().to(clients::get::<U>))
            .route(web::patch().to(clients::update::<U>))
            .route(web::delete().to(clients::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/clients/{id}/rotate_secret")
            .route(web::patch().to(clients::rotate_secret::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/api/client-grants")
            .route(web::get().to(client_grants::list::<U>))
            .route(web::post().to(client_grants::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/client-grants/{id}")
            .route(web::get().to(client_grants::get::<U>))
            .route(web::patch().to(client_grants::update::<U>))
            .route(web::delete().to(client_grants::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/resource-servers")
            .route(web::get().to(resource_servers::list::<U>))
            .route(web::post().to(resource_servers::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/resource-servers/{id}")
            .route(web::get().to(resource_servers::get::<U>))
            .route(web::patch().to(resource_servers::update::<U>))
            .route(web::delete().to(resource_servers::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/scopes")
            .route(web::get().to(scopes::list::<U>))
            .route(web::post().to(scopes::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/scopes/{id}")
            .route(web::get().to(scopes::get::<U>))
            .route(web::patch().to(scopes::update::<U>))
            .route(web::delete().to(scopes::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/sessions")
            .route(web::get().to(sessions::list::<U>))
            .route(web::post().to(sessions::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/sessions/{id}")
            .route(web::get().to(sessions::get::<U>))
            .route(web::delete().to(sessions::delete::<U>))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/api/sessions/{id}/touch")
            .route(web::patch().to(sessions::touch::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/api/sessions/{id}/revoke")
            .route(web::patch().to(sessions::revoke::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/api/organizations")
            .route(web::get().to(crate::organizations::list::<U>))
            .route(web::post().to(crate::organizations::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/organizations/{id}")
            .route(web::get().to(crate::organizations::get::<U>))
            .route(web::patch().to(crate::organizations::update::<U>))
            .route(web::delete().to(crate::organizations::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/memberships")
            .route(web::get().to(crate::memberships::list::<U>))
            .route(web::post().to(crate::memberships::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/memberships/{id}")
            .route(web::get().to(crate::memberships::get::<U>))
            .route(web::patch().to(crate::memberships::update::<U>))
            .route(web::delete().to(crate::memberships::delete::<U>))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/api/invitations")
            .route(web::get().to(crate::invitations::list::<U>))
            .route(web::post().to(crate::invitations::create::<U>))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/api/invitations/{id}")
            .route(web::get().to(crate::invitations::get::<U>))
            .route(web::delete().to(crate::invitations::delete::<U>))
            .default_service(not_allowed("GET, DELETE")),
    )
    .service(
        web::resource("/api/invitations/{id}/revoke")
            .route(web::patch().to(crate::invitations::revoke::<U>))
            .default_service(not_allowed("PATCH")),
    )
    .service(
        web::resource("/invitations/{id}/accept")
            .route(web::post().to(crate::invitations::accept::<U>))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/invitations/{id}/decline")
            .route(web::post().to(crate::invitations::decline::<U>))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/api/events")
            .route(web::get().to(crate::events::list::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/events/{id}")
            .route(web::get().to(crate::events::get::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/event-types")
            .route(web::get().to(crate::events::list_types::<U>))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/api/event-types/{name}")
            .route(web::get().to(crate::events::get_type::<U>))
            .default_service(not_allowed("GET")),
    )
    .default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::not_found("no route matches this path"))
    }));
}
