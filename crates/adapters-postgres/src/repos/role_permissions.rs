//! [`RolePermissionRepo`] on [`DbTx`], with filters and keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::access::RolePermission;
use portcullis_domain::{EnvironmentId, RolePermissionId};
use portcullis_ports::store::{RolePermissionQuery, RolePermissionRepo, StoreError};

use super::DbTx;
use crate::rows::role_permission::RolePermissionRow;
use crate::schema::role_permissions;

impl RolePermissionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(role_permission_id = %join.id))]
    fn insert_role_permission(&mut self, join: &RolePermission) -> Result<(), StoreError> {
        let row = RolePermissionRow::from_domain(join);
        self.guarded(|conn| {
            diesel::insert_into(role_permissions::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role_permission_id = %id))]
    fn delete_role_permission(
        &mut self,
        environment: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(role_permissions::table)
                .filter(role_permissions::id.eq(id.to_string()))
                .filter(role_permissions::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role_permission_id = %id))]
    fn find_role_permission(
        &mut self,
        environment: EnvironmentId,
        id: RolePermissionId,
    ) -> Result<Option<RolePermission>, StoreError> {
        let row = self.run(|conn| {
            role_permissions::table
                .filter(role_permissions::id.eq(id.to_string()))
                .filter(role_permissions::environment_id.eq(environment.to_string()))
                .select(RolePermissionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(RolePermissionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_role_permissions(
        &mut self,
        environment: EnvironmentId,
        query: &RolePermissionQuery,
    ) -> Result<Vec<RolePermission>, StoreError> {
        let page = &query.page;
        let mut select = role_permissions::table
            .filter(role_permissions::environment_id.eq(environment.to_string()))
            .select(RolePermissionRow::as_select())
            .into_boxed();
        if let Some(role) = query.role {
            select = select.filter(role_permissions::role_id.eq(role.to_string()));
        }
        if let Some(permission) = query.permission {
            select = select.filter(role_permissions::permission_id.eq(permission.to_string()));
        }
        let select = id_keyset!(select, role_permissions::id, page);
        let rows = self.run(|conn| select.load::<RolePermissionRow>(conn))?;
        rows.into_iter()
            .map(RolePermissionRow::into_domain)
            .collect()
    }
}
