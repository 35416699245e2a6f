//! `client_grants` rows.

use diesel::prelude::*;
use portcullis_domain::oauth::ClientGrant;
use portcullis_domain::{ClientGrantId, ClientId, EnvironmentId, ResourceServerId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::{json_array, parse_id, parse_json_array};
use crate::schema::client_grants;

/// A stored grant.
#[derive(Queryable, Selectable)]
#[diesel(table_name = client_grants)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ClientGrantRow {
    id: String,
    environment_id: String,
    client_id: String,
    resource_server_id: String,
    allowed_scopes: String,
    created_at: PrimitiveDateTime,
}

impl ClientGrantRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<ClientGrant, StoreError> {
        const T: &str = "client_grants";
        Ok(ClientGrant {
            id: parse_id(T, "id", &self.id, ClientGrantId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            client_id: parse_id(T, "client_id", &self.client_id, ClientId::parse)?,
            resource_server_id: parse_id(
                T,
                "resource_server_id",
                &self.resource_server_id,
                ResourceServerId::parse,
            )?,
            allowed_scopes: parse_json_array(T, "allowed_scopes", &self.allowed_scopes)?,
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}

/// A grant to insert.
#[derive(Insertable)]
#[diesel(table_name = client_grants)]
pub(crate) struct NewClientGrantRow {
    id: String,
    environment_id: String,
    client_id: String,
    resource_server_id: String,
    allowed_scopes: String,
    created_at: PrimitiveDateTime,
}

impl NewClientGrantRow {
    /// The row of `grant`.
    pub(crate) fn from_domain(grant: &ClientGrant) -> Self {
        Self {
            id: grant.id.to_string(),
            environment_id: grant.environment_id.to_string(),
            client_id: grant.client_id.to_string(),
            resource_server_id: grant.resource_server_id.to_string(),
            allowed_scopes: json_array(grant.allowed_scopes.iter().map(String::as_str)),
            created_at: grant.created_at.as_primitive(),
        }
    }
}
