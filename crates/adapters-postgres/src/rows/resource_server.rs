//! `resource_servers` rows.

use diesel::prelude::*;
use portcullis_domain::oauth::{ResourceServer, TokenLifetime};
use portcullis_domain::{EnvironmentId, ResourceServerId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::resource_servers;

/// A stored resource server.
#[derive(Queryable, Selectable)]
#[diesel(table_name = resource_servers)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ResourceServerRow {
    id: String,
    environment_id: String,
    name: String,
    identifier: String,
    token_lifetime: i64,
    is_system: bool,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl ResourceServerRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<ResourceServer, StoreError> {
        Ok(ResourceServer {
            id: parse_id("resource_servers", "id", &self.id, ResourceServerId::parse)?,
            environment_id: parse_id(
                "resource_servers",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name: self.name,
            identifier: self.identifier,
            token_lifetime: TokenLifetime::new(self.token_lifetime)
                .map_err(|err| corrupt("resource_servers", "token_lifetime", err))?,
            system: self.is_system,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        })
    }
}

/// A resource server to insert.
#[derive(Insertable)]
#[diesel(table_name = resource_servers)]
pub(crate) struct NewResourceServerRow<'a> {
    id: String,
    environment_id: String,
    name: &'a str,
    identifier: &'a str,
    token_lifetime: i64,
    is_system: bool,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl<'a> NewResourceServerRow<'a> {
    /// The row of `resource_server`.
    pub(crate) fn from_domain(resource_server: &'a ResourceServer) -> Self {
        Self {
            id: resource_server.id.to_string(),
            environment_id: resource_server.environment_id.to_string(),
            name: &resource_server.name,
            identifier: &resource_server.identifier,
            token_lifetime: resource_server.token_lifetime.seconds(),
            is_system: resource_server.system,
            created_at: resource_server.created_at.as_primitive(),
            updated_at: resource_server.updated_at.as_primitive(),
        }
    }
}

/// The mutable columns of a resource server (the identifier is fixed).
#[derive(AsChangeset)]
#[diesel(table_name = resource_servers)]
pub(crate) struct ResourceServerChangeset<'a> {
    name: &'a str,
    token_lifetime: i64,
    updated_at: PrimitiveDateTime,
}

impl<'a> ResourceServerChangeset<'a> {
    /// The mutable state of `resource_server`.
    pub(crate) fn from_domain(resource_server: &'a ResourceServer) -> Self {
        Self {
            name: &resource_server.name,
            token_lifetime: resource_server.token_lifetime.seconds(),
            updated_at: resource_server.updated_at.as_primitive(),
        }
    }
}
