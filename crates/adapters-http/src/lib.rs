//! # portcullis-adapters-http
//!
//! The HTTP face of Portcullis on actix-web: the Management API under `/api`
//! (JSON:API), the OAuth endpoints of each environment, and the probes.
//! Handlers parse, call a use case, and render; every failure, including
//! actix's own, is a JSON:API error document.
#![deny(missing_docs)]

mod body;
mod client_grants;
mod clients;
mod connections;
pub mod error;
mod health;
mod invitations;
pub mod jsonapi;
mod memberships;
pub mod middleware;
mod oauth;
mod organizations;
mod permissions;
mod query;
mod resource_servers;
mod role_permissions;
mod roles;
pub mod routes;
mod scopes;
mod sessions;
mod signing_keys;
pub mod state;
pub mod tenancy;
mod user_roles;
mod users;
mod webhooks;

pub use routes::configure;
pub use state::AppState;
