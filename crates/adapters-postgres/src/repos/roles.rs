//! [`RoleRepo`] on [`DbTx`], with keyset pagination in id order. Reads
//! return each role with its counts, computed in the same query as the rows
//! by correlated subqueries.

use diesel::prelude::*;
use portcullis_domain::access::Role;
use portcullis_domain::{EnvironmentId, RoleId};
use portcullis_ports::store::{CountedRole, Keyset, RoleRepo, StoreError};

use super::DbTx;
use crate::rows::role::{NewRoleRow, RoleChangeset, RoleRow};
use crate::schema::{role_permissions, roles, user_roles};

/// The number of joins of the outer query's role (a correlated subquery).
#[diesel::dsl::auto_type]
fn permission_count() -> _ {
    role_permissions::table
        .filter(role_permissions::role_id.eq(roles::id))
        .count()
        .single_value()
}

/// The number of users holding the outer query's role (a correlated subquery).
#[diesel::dsl::auto_type]
fn user_count() -> _ {
    user_roles::table
        .filter(user_roles::role_id.eq(roles::id))
        .count()
        .single_value()
}

/// A role row with its counts.
fn counted(
    (row, users, permissions): (RoleRow, Option<i64>, Option<i64>),
) -> Result<CountedRole, StoreError> {
    Ok(CountedRole {
        role: row.into_domain()?,
        user_count: u64::try_from(users.unwrap_or(0)).unwrap_or(0),
        permission_count: u64::try_from(permissions.unwrap_or(0)).unwrap_or(0),
    })
}

impl RoleRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(role_id = %role.id))]
    fn insert_role(&mut self, role: &Role) -> Result<(), StoreError> {
        let row = NewRoleRow::from_domain(role);
        self.guarded(|conn| diesel::insert_into(roles::table).values(&row).execute(conn))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role_id = %role.id))]
    fn update_role(&mut self, role: &Role) -> Result<(), StoreError> {
        let changes = RoleChangeset::from_domain(role);
        let id = role.id.to_string();
        let environment = role.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(roles::table)
                .filter(roles::id.eq(&id))
                .filter(roles::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role_id = %id))]
    fn delete_role(&mut self, environment: EnvironmentId, id: RoleId) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(roles::table)
                .filter(roles::id.eq(id.to_string()))
                .filter(roles::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(role_id = %id))]
    fn find_role(
        &mut self,
        environment: EnvironmentId,
        id: RoleId,
    ) -> Result<Option<CountedRole>, StoreError> {
        let row = self.run(|conn| {
            roles::table
                .filter(roles::id.eq(id.to_string()))
                .filter(roles::environment_id.eq(environment.to_string()))
                .select((RoleRow::as_select(), user_count(), permission_count()))
                .first::<(RoleRow, Option<i64>, Option<i64>)>(conn)
                .optional()
        })?;
        row.map(counted).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_roles(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<CountedRole>, StoreError> {
        let select = roles::table
            .filter(roles::environment_id.eq(environment.to_string()))
            .select((RoleRow::as_select(), user_count(), permission_count()))
            .into_boxed();
        let select = id_keyset!(select, roles::id, page);
        let rows = self.run(|conn| select.load::<(RoleRow, Option<i64>, Option<i64>)>(conn))?;
        rows.into_iter().map(counted).collect()
    }
}
