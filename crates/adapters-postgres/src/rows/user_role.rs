//! `user_roles` rows.

use diesel::prelude::*;
use portcullis_domain::access::UserRole;
use portcullis_domain::{EnvironmentId, RoleId, Timestamp, UserId, UserRoleId};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::schema::user_roles;

/// A stored user-role join (read and inserted alike).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = user_roles)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct UserRoleRow {
    id: String,
    environment_id: String,
    user_id: String,
    role_id: String,
    created_at: PrimitiveDateTime,
}

const TABLE: &str = "user_roles";

impl UserRoleRow {
    /// The row of `join`.
    pub(crate) fn from_domain(join: &UserRole) -> Self {
        Self {
            id: join.id.to_string(),
            environment_id: join.environment_id.to_string(),
            user_id: join.user_id.to_string(),
            role_id: join.role_id.to_string(),
            created_at: join.created_at.as_primitive(),
        }
    }

    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<UserRole, StoreError> {
        Ok(UserRole {
            id: parse_id(TABLE, "id", &self.id, UserRoleId::parse)?,
            environment_id: parse_id(
                TABLE,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            user_id: parse_id(TABLE, "user_id", &self.user_id, UserId::parse)?,
            role_id: parse_id(TABLE, "role_id", &self.role_id, RoleId::parse)?,
            created_at: Timestamp::from_primitive(self.created_at),
        })
    }
}
