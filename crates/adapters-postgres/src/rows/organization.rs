//! `organizations`, `memberships` and `membership_roles` rows.

use diesel::prelude::*;
use portcullis_domain::organization::{Membership, Organization, OrganizationName};
use portcullis_domain::user::Metadata;
use portcullis_domain::{EnvironmentId, MembershipId, OrganizationId, RoleId, Timestamp, UserId};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::{membership_roles, memberships, organizations};

/// A stored organization.
#[derive(Queryable, Selectable)]
#[diesel(table_name = organizations)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct OrganizationRow {
    id: String,
    environment_id: String,
    name: String,
    metadata: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl OrganizationRow {
    /// The domain entity.
    pub(crate) fn into_domain(self) -> Result<Organization, StoreError> {
        let name = OrganizationName::parse(&self.name)
            .map_err(|err| corrupt("organizations", "name", err))?;
        if name.as_str() != self.name {
            return Err(corrupt("organizations", "name", "not in trimmed form"));
        }
        let parts = Organization {
            id: parse_id("organizations", "id", &self.id, OrganizationId::parse)?,
            environment_id: parse_id(
                "organizations",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            name,
            metadata: Metadata::from_json_text(self.metadata)
                .map_err(|err| corrupt("organizations", "metadata", err))?,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Organization::from_parts(parts).map_err(|err| corrupt("organizations", "updated_at", err))
    }
}

/// An organization to insert.
#[derive(Insertable)]
#[diesel(table_name = organizations)]
pub(crate) struct NewOrganizationRow<'a> {
    id: String,
    environment_id: String,
    #[diesel(embed)]
    fields: OrganizationChangeset<'a>,
    created_at: PrimitiveDateTime,
}

impl<'a> NewOrganizationRow<'a> {
    /// The row of `organization`.
    pub(crate) fn from_domain(organization: &'a Organization) -> Self {
        Self {
            id: organization.id.to_string(),
            environment_id: organization.environment_id.to_string(),
            fields: OrganizationChangeset::from_domain(organization),
            created_at: organization.created_at.as_primitive(),
        }
    }
}

/// Every mutable column of an organization.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = organizations)]
pub(crate) struct OrganizationChangeset<'a> {
    name: &'a str,
    metadata: &'a str,
    updated_at: PrimitiveDateTime,
}

impl<'a> OrganizationChangeset<'a> {
    /// The mutable state of `organization`.
    pub(crate) fn from_domain(organization: &'a Organization) -> Self {
        Self {
            name: organization.name.as_str(),
            metadata: organization.metadata.as_str(),
            updated_at: organization.updated_at.as_primitive(),
        }
    }
}

/// A stored membership (its roles are read apart).
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = memberships)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct MembershipRow {
    pub(crate) id: String,
    environment_id: String,
    organization_id: String,
    user_id: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl MembershipRow {
    /// The row of `membership`.
    pub(crate) fn from_domain(membership: &Membership) -> Self {
        Self {
            id: membership.id.to_string(),
            environment_id: membership.environment_id.to_string(),
            organization_id: membership.organization_id.to_string(),
            user_id: membership.user_id.to_string(),
            created_at: membership.created_at.as_primitive(),
            updated_at: membership.updated_at.as_primitive(),
        }
    }

    /// The domain entity, with `role_ids` read in position order.
    pub(crate) fn into_domain(self, role_ids: &[String]) -> Result<Membership, StoreError> {
        let role_ids = role_ids
            .iter()
            .map(|raw| parse_id("membership_roles", "role_id", raw, RoleId::parse))
            .collect::<Result<Vec<_>, _>>()?;
        let parts = Membership {
            id: parse_id("memberships", "id", &self.id, MembershipId::parse)?,
            environment_id: parse_id(
                "memberships",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            organization_id: parse_id(
                "memberships",
                "organization_id",
                &self.organization_id,
                OrganizationId::parse,
            )?,
            user_id: parse_id("memberships", "user_id", &self.user_id, UserId::parse)?,
            role_ids,
            created_at: Timestamp::from_primitive(self.created_at),
            updated_at: Timestamp::from_primitive(self.updated_at),
        };
        Membership::from_parts(parts).map_err(|err| corrupt("memberships", "updated_at", err))
    }
}

/// A role held by a member.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = membership_roles)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct MembershipRoleRow {
    pub(crate) membership_id: String,
    pub(crate) role_id: String,
    pub(crate) position: i32,
}

impl MembershipRoleRow {
    /// The rows of `membership`'s roles, in order.
    pub(crate) fn of(membership: &Membership) -> Vec<Self> {
        membership
            .role_ids
            .iter()
            .enumerate()
            .map(|(position, role)| Self {
                membership_id: membership.id.to_string(),
                role_id: role.to_string(),
                position: i32::try_from(position).unwrap_or(i32::MAX),
            })
            .collect()
    }
}
