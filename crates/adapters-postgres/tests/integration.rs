//! The store against real databases. Every behaviour runs twice, on
//! PostgreSQL (`DATABASE_URL`, a fresh database cloned from the migrated
//! template per test) and on a fresh SQLite file.
#![expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

#[path = "integration/access_tokens.rs"]
mod access_tokens;
#[path = "integration/actions.rs"]
mod actions;
#[path = "integration/changes.rs"]
mod changes;
#[path = "integration/clients.rs"]
mod clients;
#[path = "integration/connect.rs"]
mod connect;
#[path = "integration/connections.rs"]
mod connections;
#[path = "integration/environments.rs"]
mod environments;
#[path = "integration/invitations.rs"]
mod invitations;
#[path = "integration/list_users.rs"]
mod list_users;
#[path = "integration/nul_text.rs"]
mod nul_text;
#[path = "integration/oauth.rs"]
mod oauth;
#[path = "integration/organizations.rs"]
mod organizations;
#[path = "integration/permissions.rs"]
mod permissions;
#[path = "integration/resource_servers.rs"]
mod resource_servers;
#[path = "integration/roles.rs"]
mod roles;
#[path = "integration/sessions.rs"]
mod sessions;
#[path = "integration/signing_keys.rs"]
mod signing_keys;
#[path = "integration/support.rs"]
mod support;
#[path = "integration/transactions.rs"]
mod transactions;
#[path = "integration/user_roles.rs"]
mod user_roles;
#[path = "integration/users.rs"]
mod users;
#[path = "integration/webhooks.rs"]
mod webhooks;
