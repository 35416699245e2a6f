//! [`PermissionRepo`] on [`DbTx`], with keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::access::Permission;
use portcullis_domain::{EnvironmentId, PermissionId};
use portcullis_ports::store::{Keyset, PermissionRepo, StoreError};

use super::DbTx;
use crate::rows::permission::{NewPermissionRow, PermissionChangeset, PermissionRow};
use crate::schema::permissions;

impl PermissionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(permission_id = %permission.id))]
    fn insert_permission(&mut self, permission: &Permission) -> Result<(), StoreError> {
        let row = NewPermissionRow::from_domain(permission);
        self.guarded(|conn| {
            diesel::insert_into(permissions::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(permission_id = %permission.id))]
    fn update_permission(&mut self, permission: &Permission) -> Result<(), StoreError> {
        let changes = PermissionChangeset::from_domain(permission);
        let id = permission.id.to_string();
        let environment = permission.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(permissions::table)
                .filter(permissions::id.eq(&id))
                .filter(permissions::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(permission_id = %id))]
    fn delete_permission(
        &mut self,
        environment: EnvironmentId,
        id: PermissionId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(permissions::table)
                .filter(permissions::id.eq(id.to_string()))
                .filter(permissions::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(permission_id = %id))]
    fn find_permission(
        &mut self,
        environment: EnvironmentId,
        id: PermissionId,
    ) -> Result<Option<Permission>, StoreError> {
        let row = self.run(|conn| {
            permissions::table
                .filter(permissions::id.eq(id.to_string()))
                .filter(permissions::environment_id.eq(environment.to_string()))
                .select(PermissionRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(PermissionRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_permissions(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Permission>, StoreError> {
        let select = permissions::table
            .filter(permissions::environment_id.eq(environment.to_string()))
            .select(PermissionRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, permissions::id, page);
        let rows = self.run(|conn| select.load::<PermissionRow>(conn))?;
        rows.into_iter().map(PermissionRow::into_domain).collect()
    }
}
