//! [`InvitationRepo`] on [`DbTx`], with keyset pagination in id order. The
//! roles of a page of invitations are read in one more query.

use std::collections::HashMap;

use diesel::prelude::*;
use portcullis_domain::invitation::Invitation;
use portcullis_domain::{EnvironmentId, InvitationId};
use portcullis_ports::store::{InvitationQuery, InvitationRepo, StoreError};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::invitation::{InvitationRoleRow, InvitationRow};
use crate::schema::{invitation_roles, invitations};

impl DbTx<'_> {
    /// The invitations of `rows` with their roles, read in one query.
    fn invitations_with_roles(
        &mut self,
        rows: Vec<InvitationRow>,
    ) -> Result<Vec<Invitation>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let roles = self.run(|conn| {
            invitation_roles::table
                .filter(invitation_roles::invitation_id.eq_any(&ids))
                .order((invitation_roles::invitation_id, invitation_roles::position))
                .select(InvitationRoleRow::as_select())
                .load::<InvitationRoleRow>(conn)
        })?;
        let mut by_invitation: HashMap<String, Vec<String>> = HashMap::new();
        for role in roles {
            by_invitation
                .entry(role.invitation_id)
                .or_default()
                .push(role.role_id);
        }
        rows.into_iter()
            .map(|row| {
                let role_ids = by_invitation.remove(&row.id).unwrap_or_default();
                row.into_domain(&role_ids)
            })
            .collect()
    }

    /// One invitation of `environment`, read `FOR UPDATE` on PostgreSQL
    /// when `lock` is set.
    fn one_invitation(
        &mut self,
        environment: EnvironmentId,
        id: InvitationId,
        lock: bool,
    ) -> Result<Option<Invitation>, StoreError> {
        let (id, environment) = (id.to_string(), environment.to_string());
        macro_rules! the_invitation {
            () => {
                invitations::table
                    .filter(invitations::id.eq(&id))
                    .filter(invitations::environment_id.eq(&environment))
                    .select(InvitationRow::as_select())
            };
        }
        let row = self.run(|conn| match conn {
            // `FOR UPDATE` makes a second accept (or decline, or revoke) of
            // the same invitation wait for the first to commit and then read
            // its outcome. It only compiles on the inner connection.
            AnyConnection::Postgres(pg) if lock => {
                the_invitation!().for_update().first(pg).optional()
            }
            // SQLite write transactions are serial (`BEGIN IMMEDIATE`).
            _ => the_invitation!().first(conn).optional(),
        })?;
        Ok(self
            .invitations_with_roles(row.into_iter().collect())?
            .pop())
    }
}

impl InvitationRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(invitation_id = %invitation.id))]
    fn insert_invitation(&mut self, invitation: &Invitation) -> Result<(), StoreError> {
        let row = InvitationRow::from_domain(invitation);
        let roles = InvitationRoleRow::of(invitation);
        self.guarded(|conn| {
            diesel::insert_into(invitations::table)
                .values(&row)
                .execute(conn)?;
            // One statement per role: a multi-row insert does not compile on
            // the two-backend connection; the savepoint covers them all.
            for role in &roles {
                diesel::insert_into(invitation_roles::table)
                    .values(role)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitation_id = %invitation.id))]
    fn update_invitation_status(&mut self, invitation: &Invitation) -> Result<(), StoreError> {
        let updated = self.guarded(|conn| {
            diesel::update(invitations::table)
                .filter(invitations::id.eq(invitation.id.to_string()))
                .filter(invitations::environment_id.eq(invitation.environment_id.to_string()))
                .set((
                    invitations::status.eq(invitation.status.as_str()),
                    invitations::user_id.eq(invitation.user_id.map(|id| id.to_string())),
                    invitations::updated_at.eq(invitation.updated_at.as_primitive()),
                ))
                .execute(conn)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitation_id = %id))]
    fn delete_invitation(
        &mut self,
        environment: EnvironmentId,
        id: InvitationId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(invitations::table)
                .filter(invitations::id.eq(id.to_string()))
                .filter(invitations::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitation_id = %id))]
    fn find_invitation(
        &mut self,
        environment: EnvironmentId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.one_invitation(environment, id, false)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(invitation_id = %id))]
    fn lock_invitation(
        &mut self,
        environment: EnvironmentId,
        id: InvitationId,
    ) -> Result<Option<Invitation>, StoreError> {
        self.one_invitation(environment, id, true)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_invitations(
        &mut self,
        environment: EnvironmentId,
        query: &InvitationQuery,
    ) -> Result<Vec<Invitation>, StoreError> {
        let page = &query.page;
        let mut select = invitations::table
            .filter(invitations::environment_id.eq(environment.to_string()))
            .select(InvitationRow::as_select())
            .into_boxed();
        if let Some(organization) = query.organization {
            select = select.filter(invitations::organization_id.eq(organization.to_string()));
        }
        if let Some(status) = query.status {
            select = select.filter(invitations::status.eq(status.as_str()));
        }
        if let Some(email) = &query.email {
            select = select.filter(invitations::email.eq(email.as_str().to_owned()));
        }
        let select = id_keyset!(select, invitations::id, page);
        let rows = self.run(|conn| select.load::<InvitationRow>(conn))?;
        self.invitations_with_roles(rows)
    }
}
