//! `scopes` rows.

use diesel::prelude::*;
use portcullis_domain::oauth::Scope;
use portcullis_domain::{EnvironmentId, ResourceServerId, ScopeId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::schema::scopes;

/// A stored scope.
#[derive(Queryable, Selectable)]
#[diesel(table_name = scopes)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ScopeRow {
    id: String,
    environment_id: String,
    resource_server_id: String,
    name: String,
    description: String,
    created_at: PrimitiveDateTime,
}

impl ScopeRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Scope, StoreError> {
        const T: &str = "scopes";
        Ok(Scope {
            id: parse_id(T, "id", &self.id, ScopeId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            resource_server_id: parse_id(
                T,
                "resource_server_id",
                &self.resource_server_id,
                ResourceServerId::parse,
            )?,
            name: self.name,
            description: self.description,
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}

/// A scope to insert.
#[derive(Insertable)]
#[diesel(table_name = scopes)]
pub(crate) struct NewScopeRow<'a> {
    id: String,
    environment_id: String,
    resource_server_id: String,
    #[diesel(embed)]
    fields: ScopeChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewScopeRow<'a> {
    /// The row of `scope`.
    pub(crate) fn from_domain(scope: &'a Scope) -> Self {
        Self {
            id: scope.id.to_string(),
            environment_id: scope.environment_id.to_string(),
            resource_server_id: scope.resource_server_id.to_string(),
            fields: ScopeChangeset::from_domain(scope),
            created_at: scope.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of a scope.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = scopes)]
pub(crate) struct ScopeChangeset<'a> {
    name: &'a str,
    description: &'a str,
}

impl<'a> ScopeChangeset<'a> {
    /// The mutable state of `scope`.
    pub(crate) fn from_domain(scope: &'a Scope) -> Self {
        Self {
            name: &scope.name,
            description: &scope.description,
        }
    }
}
