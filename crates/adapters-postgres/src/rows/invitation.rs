//! `invitations` and `invitation_roles` rows.

use diesel::prelude::*;
use portcullis_domain::invitation::{Invitation, InvitationStatus};
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::user::Email;
use portcullis_domain::{EnvironmentId, InvitationId, OrganizationId, RoleId, Timestamp, UserId};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::{invitation_roles, invitations};

/// A stored invitation (its roles are read apart).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct InvitationRow {
    pub(crate) id: String,
    environment_id: String,
    organization_id: String,
    email: String,
    status: String,
    token_digest: String,
    expires_at: PrimitiveDateTime,
    user_id: Option<String>,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl InvitationRow {
    /// The row of `invitation`.
    pub(crate) fn from_domain(invitation: &Invitation) -> Self {
        Self {
            id: invitation.id.to_string(),
            environment_id: invitation.environment_id.to_string(),
            organization_id: invitation.organization_id.to_string(),
            email: invitation.email.as_str().to_owned(),
            status: invitation.status.as_str().to_owned(),
            token_digest: invitation.token_digest.as_str().to_owned(),
            expires_at: invitation.expires_at.as_primitive(),
            user_id: invitation.user_id.map(|id| id.to_string()),
            created_at: invitation.created_at.as_primitive(),
            updated_at: invitation.updated_at.as_primitive(),
        }
    }

    /// The domain entity, with `role_ids` read in position order.
    pub(crate) fn into_domain(self, role_ids: &[String]) -> Result<Invitation, StoreError> {
        const T: &str = "invitations";
        let role_ids = role_ids
            .iter()
            .map(|raw| parse_id("invitation_roles", "role_id", raw, RoleId::parse))
            .collect::<Result<Vec<_>, _>>()?;
        let email = Email::from_stored(&self.email).map_err(|err| corrupt(T, "email", err))?;
        if email.as_str() != self.email {
            return Err(corrupt(T, "email", "not in normalised form"));
        }
        let parts = Invitation {
            id: parse_id(T, "id", &self.id, InvitationId::parse)?,
            environment_id: parse_id(
                T,
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            organization_id: parse_id(
                T,
                "organization_id",
                &self.organization_id,
                OrganizationId::parse,
            )?,
            email,
            role_ids,
            status: InvitationStatus::parse(&self.status)
                .map_err(|err| corrupt(T, "status", err))?,
            token_digest: SecretDigest::new(self.token_digest),
            expires_at: Timestamp::from_primitive(self.expires_at),
            user_id: self
                .user_id
                .as_deref()
                .map(|raw| parse_id(T, "user_id", raw, UserId::parse))
                .transpose()?,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Invitation::from_parts(parts).map_err(|err| corrupt(T, "status", err))
    }
}

/// A role granted by an invitation.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = invitation_roles)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct InvitationRoleRow {
    pub(crate) invitation_id: String,
    pub(crate) role_id: String,
    pub(crate) position: i32,
}

impl InvitationRoleRow {
    /// The rows of `invitation`'s roles, in order.
    pub(crate) fn of(invitation: &Invitation) -> Vec<Self> {
        invitation
            .role_ids
            .iter()
            .enumerate()
            .map(|(position, role)| Self {
                invitation_id: invitation.id.to_string(),
                role_id: role.to_string(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
            })
            .collect()
    }
}
