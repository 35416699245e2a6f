//! The route table, shared by the binary and the tests. One table both
//! registers each route and describes it (`openapi.rs`): a route cannot be
//! served without being described.

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, Route, web};
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::joins::JoinRoute;
use crate::openapi::{self as doc, Described};
use crate::sessions;
use crate::{
    actions, client_grants, clients, connections, docs, events, health, invitations, joins,
    memberships, oauth, organizations, permissions, resource_servers, roles, scopes, signing_keys,
    users, webhooks,
};
use portcullis_application::role_permissions::RolePermissions;
use portcullis_application::user_roles::UserRoles;

/// The `405` answer of a path for the methods it does not serve, naming
/// those it does in `Allow`.
pub fn not_allowed(methods: &[&str]) -> Route {
    let allow = methods.join(", ");
    web::route().to(move || {
        let allow = allow.clone();
        async move {
            Err::<HttpResponse, _>(
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "Method not allowed",
                    format!("allowed methods: {allow}"),
                )
                .with_header(actix_web::http::header::ALLOW, allow),
            )
        }
    })
}

/// The scope guarding `verb` on a join collection (`users:read` ...).
fn join_scope<K: JoinRoute>(verb: &str) -> String {
    format!("{}:{verb}", K::SCOPE)
}

macro_rules! route_table {
    ($( $path:literal { $( $method:ident $handler:expr => $doc:expr; )+ } )+) => {
        /// Registers every route of the server, each path with a `405`
        /// (naming the served methods) for the others.
        pub fn configure<U: UnitOfWork>(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .route(web::method(Method::$method).to($handler)) )+
                        .default_service(not_allowed(&[$(stringify!($method)),+])),
                );
            )+
            cfg.default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::not_found("no route matches this path"))
            }));
        }

        /// Every operation [`configure`] registers, with its description.
        #[must_use]
        pub fn operations() -> Vec<Described> {
            vec![ $( $( Described { method: stringify!($method), path: $path, doc: $doc }, )+ )+ ]
        }
    };
}

route_table! {
    "/health/live" {
        GET health::live => doc::probe("Liveness: the process answers.", "live", false);
    }
    "/health/ready" {
        GET health::ready::<U> => doc::probe("Readiness: the store answers.", "ready", true);
    }
    "/oauth/token" {
        POST oauth::token::<U> => doc::oauth_token();
    }
    "/oauth/introspect" {
        POST oauth::introspect::<U> => doc::oauth_introspect();
    }
    "/oauth/revoke" {
        POST oauth::revoke::<U> => doc::oauth_revoke();
    }
    "/.well-known/jwks.json" {
        GET oauth::jwks::<U> => doc::jwks();
    }
    "/.well-known/openid-configuration" {
        GET oauth::discovery::<U> => doc::discovery();
    }
    "/api/openapi.json" {
        GET docs::openapi_json => doc::openapi_json();
    }
    "/api/docs" {
        GET docs::index => doc::docs_index();
    }
    "/api/docs/{file:.*}" {
        GET docs::asset => doc::docs_asset();
    }
    "/api/users" {
        GET users::list::<U> => doc::list("user", "users:read", &users::FILTERS, &users::SORTS);
        POST users::create::<U> => doc::create("user", "users:write");
    }
    "/api/users/{id}" {
        GET users::get::<U> => doc::get("user", "users:read");
        PATCH users::update::<U> => doc::update("user", "users:write");
        DELETE users::delete::<U> => doc::delete("user", "users:delete");
    }
    "/api/signing-keys" {
        GET signing_keys::list::<U> => doc::list("signing_key", "signing_keys:read", &[], &["created_at"]);
        POST signing_keys::generate::<U> => doc::generate_key();
    }
    "/api/signing-keys/{id}" {
        GET signing_keys::get::<U> => doc::get("signing_key", "signing_keys:read");
        DELETE signing_keys::delete::<U> => doc::delete("signing_key", "signing_keys:delete");
    }
    "/api/signing-keys/{id}/deactivate" {
        PATCH signing_keys::deactivate::<U> => doc::action("signing_key", "signing_keys:write", "Deactivate a signing key.");
    }
    "/api/permissions" {
        GET permissions::list::<U> => doc::list("permission", "permissions:read", &[], &["created_at"]);
        POST permissions::create::<U> => doc::create("permission", "permissions:write");
    }
    "/api/permissions/{id}" {
        GET permissions::get::<U> => doc::get("permission", "permissions:read");
        PATCH permissions::update::<U> => doc::update("permission", "permissions:write");
        DELETE permissions::delete::<U> => doc::delete("permission", "permissions:delete");
    }
    "/api/actions" {
        GET actions::list::<U> => doc::list("action", "actions:read", &[], &["created_at"]);
        POST actions::create::<U> => doc::create("action", "actions:write");
    }
    "/api/actions/{id}" {
        GET actions::get::<U> => doc::get("action", "actions:read");
        PATCH actions::update::<U> => doc::update("action", "actions:write");
        DELETE actions::delete::<U> => doc::delete("action", "actions:delete");
    }
    "/api/actions/{id}/executions" {
        GET actions::executions::<U> => doc::list("action_execution", "actions:read", &[], &["executed_at"]);
    }
    "/api/actions/{id}/executions/{execution_id}" {
        GET actions::execution::<U> => doc::get("action_execution", "actions:read");
    }
    "/api/connections" {
        GET connections::list::<U> => doc::list("connection", "connections:read", &[], &["created_at"]);
        POST connections::create::<U> => doc::create("connection", "connections:write");
    }
    "/api/connections/{id}" {
        GET connections::get::<U> => doc::get("connection", "connections:read");
        PATCH connections::update::<U> => doc::update("connection", "connections:write");
        DELETE connections::delete::<U> => doc::delete("connection", "connections:delete");
    }
    "/api/webhooks" {
        GET webhooks::list::<U> => doc::list("webhook", "webhooks:read", &[], &["created_at"]);
        POST webhooks::create::<U> => doc::create("webhook", "webhooks:write");
    }
    "/api/webhooks/{id}" {
        GET webhooks::get::<U> => doc::get("webhook", "webhooks:read");
        PATCH webhooks::update::<U> => doc::update("webhook", "webhooks:write");
        DELETE webhooks::delete::<U> => doc::delete("webhook", "webhooks:delete");
    }
    "/api/webhooks/{id}/rotate_secret" {
        PATCH webhooks::rotate_secret::<U> => doc::action("webhook", "webhooks:write", "Rotate a webhook's signing secret; the new secret is in this response only.");
    }
    "/api/webhooks/{id}/deliveries" {
        GET webhooks::deliveries::<U> => doc::list("webhook_delivery", "webhooks:read", &[], &["created_at"]);
    }
    "/api/roles" {
        GET roles::list::<U> => doc::list("role", "roles:read", &[], &["created_at"]);
        POST roles::create::<U> => doc::create("role", "roles:write");
    }
    "/api/roles/{id}" {
        GET roles::get::<U> => doc::get("role", "roles:read");
        PATCH roles::update::<U> => doc::update("role", "roles:write");
        DELETE roles::delete::<U> => doc::delete("role", "roles:delete");
    }
    "/api/role-permissions" {
        GET joins::list::<U, RolePermissions> => doc::list(RolePermissions::KIND, &join_scope::<RolePermissions>("read"), &joins::relationships::<RolePermissions>(), &["created_at"]);
        POST joins::create::<U, RolePermissions> => doc::create(RolePermissions::KIND, &join_scope::<RolePermissions>("write"));
    }
    "/api/role-permissions/{id}" {
        GET joins::get::<U, RolePermissions> => doc::get(RolePermissions::KIND, &join_scope::<RolePermissions>("read"));
        DELETE joins::delete::<U, RolePermissions> => doc::delete(RolePermissions::KIND, &join_scope::<RolePermissions>("delete"));
    }
    "/api/user-roles" {
        GET joins::list::<U, UserRoles> => doc::list(UserRoles::KIND, &join_scope::<UserRoles>("read"), &joins::relationships::<UserRoles>(), &["created_at"]);
        POST joins::create::<U, UserRoles> => doc::create(UserRoles::KIND, &join_scope::<UserRoles>("write"));
    }
    "/api/user-roles/{id}" {
        GET joins::get::<U, UserRoles> => doc::get(UserRoles::KIND, &join_scope::<UserRoles>("read"));
        DELETE joins::delete::<U, UserRoles> => doc::delete(UserRoles::KIND, &join_scope::<UserRoles>("delete"));
    }
    "/api/clients" {
        GET clients::list::<U> => doc::list("client", "clients:read", &[], &["created_at"]);
        POST clients::create::<U> => doc::create("client", "clients:write");
    }
    "/api/clients/{id}" {
        GET clients::get::<U> => doc::get("client", "clients:read");
        PATCH clients::update::<U> => doc::update("client", "clients:write");
        DELETE clients::delete::<U> => doc::delete("client", "clients:delete");
    }
    "/api/clients/{id}/rotate_secret" {
        PATCH clients::rotate_secret::<U> => doc::action("client", "clients:write", "Rotate a client's secret; the new secret is in this response only.");
    }
    "/api/client-grants" {
        GET client_grants::list::<U> => doc::list("client_grant", "clients:read", &client_grants::RELATIONSHIPS, &["created_at"]);
        POST client_grants::create::<U> => doc::create("client_grant", "clients:write");
    }
    "/api/client-grants/{id}" {
        GET client_grants::get::<U> => doc::get("client_grant", "clients:read");
        PATCH client_grants::update::<U> => doc::update("client_grant", "clients:write");
        DELETE client_grants::delete::<U> => doc::delete("client_grant", "clients:delete");
    }
    "/api/resource-servers" {
        GET resource_servers::list::<U> => doc::list("resource_server", "resource_servers:read", &[], &["created_at"]);
        POST resource_servers::create::<U> => doc::create("resource_server", "resource_servers:write");
    }
    "/api/resource-servers/{id}" {
        GET resource_servers::get::<U> => doc::get("resource_server", "resource_servers:read");
        PATCH resource_servers::update::<U> => doc::update("resource_server", "resource_servers:write");
        DELETE resource_servers::delete::<U> => doc::delete("resource_server", "resource_servers:delete");
    }
    "/api/scopes" {
        GET scopes::list::<U> => doc::list("scope", "resource_servers:read", &scopes::RELATIONSHIPS, &["created_at"]);
        POST scopes::create::<U> => doc::create("scope", "resource_servers:write");
    }
    "/api/scopes/{id}" {
        GET scopes::get::<U> => doc::get("scope", "resource_servers:read");
        PATCH scopes::update::<U> => doc::update("scope", "resource_servers:write");
        DELETE scopes::delete::<U> => doc::delete("scope", "resource_servers:delete");
    }
    "/api/sessions" {
        GET sessions::list::<U> => doc::list("session", "sessions:read", &sessions::FILTERS, &["created_at"]);
        POST sessions::create::<U> => doc::create("session", "sessions:write");
    }
    "/api/sessions/{id}" {
        GET sessions::get::<U> => doc::get("session", "sessions:read");
        DELETE sessions::delete::<U> => doc::delete("session", "sessions:delete");
    }
    "/api/sessions/{id}/touch" {
        PATCH sessions::touch::<U> => doc::action("session", "sessions:write", "Record activity on a session (extends its idle expiry).");
    }
    "/api/sessions/{id}/revoke" {
        PATCH sessions::revoke::<U> => doc::action("session", "sessions:write", "Revoke a session (idempotent).");
    }
    "/api/organizations" {
        GET organizations::list::<U> => doc::list("organization", "organizations:read", &[], &["created_at"]);
        POST organizations::create::<U> => doc::create("organization", "organizations:write");
    }
    "/api/organizations/{id}" {
        GET organizations::get::<U> => doc::get("organization", "organizations:read");
        PATCH organizations::update::<U> => doc::update("organization", "organizations:write");
        DELETE organizations::delete::<U> => doc::delete("organization", "organizations:delete");
    }
    "/api/memberships" {
        GET memberships::list::<U> => doc::list("membership", "organizations:read", &memberships::FILTERS, &["created_at"]);
        POST memberships::create::<U> => doc::create("membership", "organizations:write");
    }
    "/api/memberships/{id}" {
        GET memberships::get::<U> => doc::get("membership", "organizations:read");
        PATCH memberships::update::<U> => doc::update("membership", "organizations:write");
        DELETE memberships::delete::<U> => doc::delete("membership", "organizations:delete");
    }
    "/api/invitations" {
        GET invitations::list::<U> => doc::list("invitation", "organizations:read", &invitations::FILTERS, &["created_at"]);
        POST invitations::create::<U> => doc::create("invitation", "organizations:write");
    }
    "/api/invitations/{id}" {
        GET invitations::get::<U> => doc::get("invitation", "organizations:read");
        DELETE invitations::delete::<U> => doc::delete("invitation", "organizations:delete");
    }
    "/api/invitations/{id}/revoke" {
        PATCH invitations::revoke::<U> => doc::action("invitation", "organizations:write", "Revoke a pending invitation (`409` otherwise).");
    }
    "/invitations/{id}/accept" {
        POST invitations::accept::<U> => doc::answer(true);
    }
    "/invitations/{id}/decline" {
        POST invitations::decline::<U> => doc::answer(false);
    }
    "/api/events" {
        GET events::list::<U> => doc::list("event", "events:read", &events::FILTERS, &events::SORTS);
    }
    "/api/events/{id}" {
        GET events::get::<U> => doc::get("event", "events:read");
    }
    "/api/event-types" {
        GET events::list_types::<U> => doc::list("event_type", "events:read", &[], &["name"]);
    }
    "/api/event-types/{name}" {
        GET events::get_type::<U> => doc::get("event_type", "events:read");
    }
}
