//! # portcullis-adapters-http
//!
//! The HTTP face of Portcullis on actix-web: the Management API under `/api`
//! (JSON:API), the OAuth endpoints of each environment, and the probes.
//! Handlers parse, call a use case, and render; every failure, including
//! actix's own, is a JSON:API error document.
#![deny(missing_docs)]

mod actions;
mod body;
mod client_grants;
mod clients;
mod connections;
mod docs;
pub mod error;
mod events;
pub mod head;
mod health;
mod invitations;
mod joins;
pub mod jsonapi;
pub mod limits;
mod memberships;
pub mod metrics;
pub mod middleware;
mod oauth;
pub mod openapi;
mod organizations;
mod permissions;
mod query;
mod resource_servers;
mod roles;
pub mod routes;
mod scopes;
mod sessions;
mod signing_keys;
pub mod state;
pub mod tenancy;
mod users;
mod webhooks;

pub use routes::configure;
pub use state::AppState;
