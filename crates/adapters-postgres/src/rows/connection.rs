//! `connections` rows.

use diesel::prelude::*;
use portcullis_domain::connection::{
    Connection, DiscoveryUrl, DisplayName, EncryptedClientSecret, ProviderClientId, ProviderScopes,
    Strategy,
};
use portcullis_domain::{ConnectionId, EnvironmentId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::connections;

/// A stored connection.
#[derive(Queryable, Selectable)]
#[diesel(table_name = connections)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ConnectionRow {
    id: String,
    environment_id: String,
    strategy: String,
    display_name: String,
    client_id: String,
    client_secret: Option<Vec<u8>>,
    scopes: String,
    discovery_url: Option<String>,
    enforce_sso: bool,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl ConnectionRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Connection, StoreError> {
        const T: &str = "connections";
        let parts = Connection {
            id: parse_id(T, "id", &self.id, ConnectionId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            strategy: Strategy::parse(&self.strategy).map_err(|e| corrupt(T, "strategy", e))?,
            display_name: DisplayName::parse(&self.display_name)
                .map_err(|e| corrupt(T, "display_name", e))?,
            client_id: ProviderClientId::parse(&self.client_id)
                .map_err(|e| corrupt(T, "client_id", e))?,
            client_secret: self.client_secret.map(EncryptedClientSecret::new),
            scopes: ProviderScopes::parse(&self.scopes).map_err(|e| corrupt(T, "scopes", e))?,
            discovery_url: self
                .discovery_url
                .as_deref()
                .map(DiscoveryUrl::parse)
                .transpose()
                .map_err(|e| corrupt(T, "discovery_url", e))?,
            enforce_sso: self.enforce_sso,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Connection::from_parts(parts).map_err(|e| corrupt(T, "updated_at", e))
    }
}

/// A connection to insert.
#[derive(Insertable)]
#[diesel(table_name = connections)]
pub(crate) struct NewConnectionRow<'a> {
    id: String,
    environment_id: String,
    strategy: &'a str,
    #[diesel(embed)]
    fields: ConnectionChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewConnectionRow<'a> {
    /// The row of `connection`.
    pub(crate) fn from_domain(connection: &'a Connection) -> Self {
        Self {
            id: connection.id.to_string(),
            environment_id: connection.environment_id.to_string(),
            strategy: connection.strategy.as_str(),
            fields: ConnectionChangeset::from_domain(connection),
            created_at: connection.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of a connection (the strategy is not one).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = connections)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ConnectionChangeset<'a> {
    display_name: &'a str,
    client_id: &'a str,
    client_secret: Option<&'a [u8]>,
    scopes: &'a str,
    discovery_url: Option<&'a str>,
    enforce_sso: bool,
    updated_at: PrimitiveDateTime,
}

impl<'a> ConnectionChangeset<'a> {
    /// The mutable state of `connection`.
    pub(crate) fn from_domain(connection: &'a Connection) -> Self {
        Self {
            display_name: connection.display_name.as_str(),
            client_id: connection.client_id.as_str(),
            client_secret: connection
                .client_secret
                .as_ref()
                .map(EncryptedClientSecret::as_bytes),
            scopes: connection.scopes.as_str(),
            discovery_url: connection.discovery_url.as_ref().map(DiscoveryUrl::as_str),
            enforce_sso: connection.enforce_sso,
            updated_at: connection.updated_at.as_primitive(),
        }
    }
}
