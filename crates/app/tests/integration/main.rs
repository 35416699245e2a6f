//! End-to-end tests: the real server over HTTP on a real store (PostgreSQL
//! from `DATABASE_URL`, and the embedded SQLite store).
#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

mod actions;
mod cli;
mod client_grants;
mod clients;
mod connections;
mod control_characters;
mod crash;
mod email_lookalikes;
mod environments;
mod errors;
mod events;

mod integration_flow;
mod invitations;
mod logs;
mod memberships;
mod multi_node;
mod opaque_tokens;
mod openapi;
mod ops;
mod organizations;
mod outage;
mod permissions;
mod pg_cluster;
mod processes;
mod readme;
mod receiver;
mod resource_servers;
mod retention;
mod role_permissions;
mod roles;
mod scopes;
mod secrets;
mod sessions;
mod shutdown;
mod signing_keys;
mod soak;
mod tokens;
mod user_roles;
mod users;
mod webhook_delivery;
mod webhook_processes;
mod webhooks;
