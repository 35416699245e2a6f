//! # portcullis-application
//!
//! The use cases of Portcullis, written against the ports and nothing else.
//! Each service validates input with the domain's parsers, does slow work
//! (hashing, key generation, signing) outside transactions, and commits a
//! change together with its audit event through the unit of work.
//!
//! Driving adapters (HTTP, CLI) call the services; they never see a store or
//! a crypto library.
#![deny(missing_docs)]

pub mod action_runs;
pub mod actions;
pub mod client_grants;
pub mod client_memo;
pub mod clients;
pub mod connections;
pub mod environments;
pub mod event_types;
pub mod events;
pub mod invitations;
pub mod joins;
pub mod keys;
pub mod memberships;
pub mod node_caches;
pub mod organizations;
pub mod permissions;
pub mod principal;
pub mod representation;
pub mod resource_servers;
pub mod retention;
pub mod role_permissions;
pub mod roles;
pub mod scopes;
pub mod sessions;
pub mod signing_keys;
pub mod tokens;
pub mod user_roles;
pub mod users;
pub mod validation;
pub mod webhook_delivery;
pub mod webhooks;

mod paging;
mod ports;
#[cfg(test)]
mod testing;

pub use paging::{Page, PageParams};
pub use ports::Ports;
pub use principal::{Actor, MissingScope, Principal};
