//! `roles` rows.

use diesel::prelude::*;
use portcullis_domain::access::{Description, Role, RoleName};
use portcullis_domain::{EnvironmentId, RoleId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::roles;

/// A stored role.
#[derive(Queryable, Selectable)]
#[diesel(table_name = roles)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct RoleRow {
    id: String,
    environment_id: String,
    name: String,
    description: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl RoleRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Role, StoreError> {
        let name = RoleName::parse(&self.name).map_err(|err| corrupt("roles", "name", err))?;
        // Uniqueness is exact only because every stored name is already trimmed.
        if name.as_str() != self.name {
            return Err(corrupt("roles", "name", "not in trimmed form"));
        }
        let parts = Role {
            id: parse_id("roles", "id", &self.id, RoleId::parse)?,
            environment_id: parse_id(
                "roles",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name,
            description: Description::parse(&self.description)
                .map_err(|err| corrupt("roles", "description", err))?,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Role::from_parts(parts).map_err(|err| corrupt("roles", "updated_at", err))
    }
}

/// A role to insert.
#[derive(Insertable)]
#[diesel(table_name = roles)]
pub(crate) struct NewRoleRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: RoleChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewRoleRow<'a> {
    /// The row of `role`.
    pub(crate) fn from_domain(role: &'a Role) -> Self {
        Self {
            id: role.id.to_string(),
            environment_id: role.environment_id.to_string(),
            fields: RoleChangeset::from_domain(role),
            created_at: role.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of a role.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = roles)]
pub(crate) struct RoleChangeset<'a> {
    name: &'a str,
    description: &'a str,
    updated_at: PrimitiveDateTime,
}

impl<'a> RoleChangeset<'a> {
    /// The mutable state of `role`.
    pub(crate) fn from_domain(role: &'a Role) -> Self {
        Self {
            name: role.name.as_str(),
            description: role.description.as_str(),
            updated_at: role.updated_at.as_primitive(),
        }
    }
}
