//! `permissions` rows.

use diesel::prelude::*;
use portcullis_domain::access::{Description, Permission, PermissionName};
use portcullis_domain::{EnvironmentId, PermissionId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::permissions;

/// A stored permission.
#[derive(Queryable, Selectable)]
#[diesel(table_name = permissions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct PermissionRow {
    id: String,
    environment_id: String,
    name: String,
    description: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl PermissionRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Permission, StoreError> {
        let name =
            PermissionName::parse(&self.name).map_err(|err| corrupt("permissions", "name", err))?;
        // Uniqueness is exact only because every stored name is already trimmed.
        if name.as_str() != self.name {
            return Err(corrupt("permissions", "name", "not in trimmed form"));
        }
        let parts = Permission {
            id: parse_id("permissions", "id", &self.id, PermissionId::parse)?,
            environment_id: parse_id(
                "permissions",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name,
            description: Description::parse(&self.description)
                .map_err(|err| corrupt("permissions", "description", err))?,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Permission::from_parts(parts).map_err(|err| corrupt("permissions", "updated_at", err))
    }
}

/// A permission to insert.
#[derive(Insertable)]
#[diesel(table_name = permissions)]
pub(crate) struct NewPermissionRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: PermissionChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewPermissionRow<'a> {
    /// The row of `permission`.
    pub(crate) fn from_domain(permission: &'a Permission) -> Self {
        Self {
            id: permission.id.to_string(),
            environment_id: permission.environment_id.to_string(),
            fields: PermissionChangeset::from_domain(permission),
            created_at: permission.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of a permission.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = permissions)]
pub(crate) struct PermissionChangeset<'a> {
    name: &'a str,
    description: &'a str,
    updated_at: PrimitiveDateTime,
}

impl<'a> PermissionChangeset<'a> {
    /// The mutable state of `permission`.
    pub(crate) fn from_domain(permission: &'a Permission) -> Self {
        Self {
            name: permission.name.as_str(),
            description: permission.description.as_str(),
            updated_at: permission.updated_at.as_primitive(),
        }
    }
}
