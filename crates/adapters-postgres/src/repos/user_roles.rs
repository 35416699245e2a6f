//! [`UserRoleRepo`] on [`DbTx`], with filters and keyset pagination in id order.

use diesel::prelude::*;
use portcullis_domain::access::UserRole;
use portcullis_domain::{EnvironmentId, UserRoleId};
use portcullis_ports::store::{StoreError, UserRoleQuery, UserRoleRepo};

use super::DbTx;
use crate::rows::user_role::UserRoleRow;
use crate::schema::user_roles;

impl UserRoleRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(user_role_id = %join.id))]
    fn insert_user_role(&mut self, join: &UserRole) -> Result<(), StoreError> {
        let row = UserRoleRow::from_domain(join);
        self.guarded(|conn| {
            diesel::insert_into(user_roles::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_role_id = %id))]
    fn delete_user_role(
        &mut self,
        environment: EnvironmentId,
        id: UserRoleId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(user_roles::table)
                .filter(user_roles::id.eq(id.to_string()))
                .filter(user_roles::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(user_role_id = %id))]
    fn find_user_role(
        &mut self,
        environment: EnvironmentId,
        id: UserRoleId,
    ) -> Result<Option<UserRole>, StoreError> {
        let row = self.run(|conn| {
            user_roles::table
                .filter(user_roles::id.eq(id.to_string()))
                .filter(user_roles::environment_id.eq(environment.to_string()))
                .select(UserRoleRow::as_select())
                .first(conn)
                .optional()
        })?;
        row.map(UserRoleRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_user_roles(
        &mut self,
        environment: EnvironmentId,
        query: &UserRoleQuery,
    ) -> Result<Vec<UserRole>, StoreError> {
        let page = &query.page;
        let mut select = user_roles::table
            .filter(user_roles::environment_id.eq(environment.to_string()))
            .select(UserRoleRow::as_select())
            .into_boxed();
        if let Some(user) = query.user {
            select = select.filter(user_roles::user_id.eq(user.to_string()));
        }
        if let Some(role) = query.role {
            select = select.filter(user_roles::role_id.eq(role.to_string()));
        }
        let select = id_keyset!(select, user_roles::id, page);
        let rows = self.run(|conn| select.load::<UserRoleRow>(conn))?;
        rows.into_iter().map(UserRoleRow::into_domain).collect()
    }
}
