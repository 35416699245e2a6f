//! [`OrganizationRepo`] and [`MembershipRepo`] on [`DbTx`], with keyset
//! pagination in id order. Organizations are read with their member count
//! in the same query as the rows (a correlated subquery); memberships with
//! their roles, read for a whole page in one more query.

use std::collections::HashMap;

use diesel::prelude::*;
use portcullis_domain::organization::{Membership, Organization};
use portcullis_domain::{EnvironmentId, MembershipId, OrganizationId};
use portcullis_ports::store::{
    CountedOrganization, Keyset, MembershipQuery, MembershipRepo, OrganizationRepo, StoreError,
};

use super::DbTx;
use crate::rows::organization::{
    MembershipRoleRow, MembershipRow, NewOrganizationRow, OrganizationChangeset, OrganizationRow,
};
use crate::schema::{membership_roles, memberships, organizations};

/// The number of memberships of the outer query's organization.
#[diesel::dsl::auto_type]
fn member_count() -> _ {
    memberships::table
        .filter(memberships::organization_id.eq(organizations::id))
        .count()
        .single_value()
}

/// An organization row with its count.
fn counted(
    (row, members): (OrganizationRow, Option<i64>),
) -> Result<CountedOrganization, StoreError> {
    Ok(CountedOrganization {
        organization: row.into_domain()?,
        member_count: u64::try_from(members.unwrap_or(0)).unwrap_or(0),
    })
}

impl OrganizationRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(organization_id = %organization.id))]
    fn insert_organization(&mut self, organization: &Organization) -> Result<(), StoreError> {
        let row = NewOrganizationRow::from_domain(organization);
        self.guarded(|conn| {
            diesel::insert_into(organizations::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(organization_id = %organization.id))]
    fn update_organization(&mut self, organization: &Organization) -> Result<(), StoreError> {
        let changes = OrganizationChangeset::from_domain(organization);
        let id = organization.id.to_string();
        let environment = organization.environment_id.to_string();
        let updated = self.guarded(|conn| {
            diesel::update(organizations::table)
                .filter(organizations::id.eq(&id))
                .filter(organizations::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(organization_id = %id))]
    fn delete_organization(
        &mut self,
        environment: EnvironmentId,
        id: OrganizationId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(organizations::table)
                .filter(organizations::id.eq(id.to_string()))
                .filter(organizations::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(organization_id = %id))]
    fn find_organization(
        &mut self,
        environment: EnvironmentId,
        id: OrganizationId,
    ) -> Result<Option<CountedOrganization>, StoreError> {
        let row = self.run(|conn| {
            organizations::table
                .filter(organizations::id.eq(id.to_string()))
                .filter(organizations::environment_id.eq(environment.to_string()))
                .select((OrganizationRow::as_select(), member_count()))
                .first::<(OrganizationRow, Option<i64>)>(conn)
                .optional()
        })?;
        row.map(counted).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_organizations(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<CountedOrganization>, StoreError> {
        let select = organizations::table
            .filter(organizations::environment_id.eq(environment.to_string()))
            .select((OrganizationRow::as_select(), member_count()))
            .into_boxed();
        let select = id_keyset!(select, organizations::id, page);
        let rows = self.run(|conn| select.load::<(OrganizationRow, Option<i64>)>(conn))?;
        rows.into_iter().map(counted).collect()
    }
}

impl DbTx<'_> {
    /// The memberships of `rows` with their roles, read in one query.
    fn with_roles(&mut self, rows: Vec<MembershipRow>) -> Result<Vec<Membership>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let roles = self.run(|conn| {
            membership_roles::table
                .filter(membership_roles::membership_id.eq_any(&ids))
                .order((membership_roles::membership_id, membership_roles::position))
                .select(MembershipRoleRow::as_select())
                .load::<MembershipRoleRow>(conn)
        })?;
        let mut by_membership: HashMap<String, Vec<String>> = HashMap::new();
        for role in roles {
            by_membership
                .entry(role.membership_id)
                .or_default()
                .push(role.role_id);
        }
        rows.into_iter()
            .map(|row| {
                let role_ids = by_membership.remove(&row.id).unwrap_or_default();
                row.into_domain(&role_ids)
            })
            .collect()
    }
}

impl MembershipRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(membership_id = %membership.id))]
    fn insert_membership(&mut self, membership: &Membership) -> Result<(), StoreError> {
        let row = MembershipRow::from_domain(membership);
        let roles = MembershipRoleRow::of(membership);
        self.guarded(|conn| {
            diesel::insert_into(memberships::table)
                .values(&row)
                .execute(conn)?;
            // One statement per role: a multi-row insert does not compile on
            // the two-backend connection; the savepoint covers them all.
            for role in &roles {
                diesel::insert_into(membership_roles::table)
                    .values(role)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(membership_id = %membership.id))]
    fn replace_membership_roles(&mut self, membership: &Membership) -> Result<(), StoreError> {
        let id = membership.id.to_string();
        let environment = membership.environment_id.to_string();
        let updated_at = membership.updated_at.as_primitive();
        let roles = MembershipRoleRow::of(membership);
        let updated = self.guarded(|conn| {
            let updated = diesel::update(memberships::table)
                .filter(memberships::id.eq(&id))
                .filter(memberships::environment_id.eq(&environment))
                .set(memberships::updated_at.eq(updated_at))
                .execute(conn)?;
            if updated == 0 {
                return Ok(0);
            }
            diesel::delete(membership_roles::table)
                .filter(membership_roles::membership_id.eq(&id))
                .execute(conn)?;
            // One statement per role: a multi-row insert does not compile on
            // the two-backend connection; the savepoint covers them all.
            for role in &roles {
                diesel::insert_into(membership_roles::table)
                    .values(role)
                    .execute(conn)?;
            }
            Ok(updated)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(membership_id = %id))]
    fn delete_membership(
        &mut self,
        environment: EnvironmentId,
        id: MembershipId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(memberships::table)
                .filter(memberships::id.eq(id.to_string()))
                .filter(memberships::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(membership_id = %id))]
    fn find_membership(
        &mut self,
        environment: EnvironmentId,
        id: MembershipId,
    ) -> Result<Option<Membership>, StoreError> {
        let row = self.run(|conn| {
            memberships::table
                .filter(memberships::id.eq(id.to_string()))
                .filter(memberships::environment_id.eq(environment.to_string()))
                .select(MembershipRow::as_select())
                .first::<MembershipRow>(conn)
                .optional()
        })?;
        Ok(self.with_roles(row.into_iter().collect())?.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_memberships(
        &mut self,
        environment: EnvironmentId,
        query: &MembershipQuery,
    ) -> Result<Vec<Membership>, StoreError> {
        let page = &query.page;
        let mut select = memberships::table
            .filter(memberships::environment_id.eq(environment.to_string()))
            .select(MembershipRow::as_select())
            .into_boxed();
        if let Some(organization) = query.organization {
            select = select.filter(memberships::organization_id.eq(organization.to_string()));
        }
        if let Some(user) = query.user {
            select = select.filter(memberships::user_id.eq(user.to_string()));
        }
        let select = id_keyset!(select, memberships::id, page);
        let rows = self.run(|conn| select.load::<MembershipRow>(conn))?;
        self.with_roles(rows)
    }
}
