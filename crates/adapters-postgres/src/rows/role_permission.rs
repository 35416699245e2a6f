//! `role_permissions` rows.

use diesel::prelude::*;
use portcullis_domain::access::RolePermission;
use portcullis_domain::{EnvironmentId, PermissionId, RoleId, RolePermissionId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::schema::role_permissions;

/// A stored role-permission join (read and inserted alike).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = role_permissions)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct RolePermissionRow {
    id: String,
    environment_id: String,
    role_id: String,
    permission_id: String,
    created_at: PrimitiveDateTime,
}

const TABLE: &str = "role_permissions";

impl RolePermissionRow {
    /// The row of `join`.
    pub(crate) fn from_domain(join: &RolePermission) -> Self {
        Self {
            id: join.id.to_string(),
            environment_id: join.environment_id.to_string(),
            role_id: join.role_id.to_string(),
            permission_id: join.permission_id.to_string(),
            created_at: join.created_at.as_primitive(),
        }
    }

    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<RolePermission, StoreError> {
        Ok(RolePermission {
            id: parse_id(TABLE, "id", &self.id, RolePermissionId::parse)?,
            environment_id: parse_id(
                TABLE,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            role_id: parse_id(TABLE, "role_id", &self.role_id, RoleId::parse)?,
            permission_id: parse_id(
                TABLE,
                "permission_id",
                &self.permission_id,
                PermissionId::parse,
            )?,
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}
