//! Organizations of an environment and the memberships of users in them,
//! each membership holding a set of the environment's roles.

use crate::text::TextRules;
use crate::user::Metadata;
use crate::{EnvironmentId, MembershipId, OrganizationId, RoleId, Timestamp, UserId};

crate::bounded_text! {
    /// An organization name: trimmed, 1 to 200 characters, no control
    /// characters. Its case is kept; names need not be unique.
    pub struct OrganizationName = TextRules::name("name", 200);
}

/// An organization of an environment (a customer, a team).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    /// Identity.
    pub id: OrganizationId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Display name.
    pub name: OrganizationName,
    /// Free-form JSON object.
    pub metadata: Metadata,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A stored record whose timestamps contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} was updated before it was created")]
pub struct OrganizationStateError(pub String);

/// A partial update of an organization; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct OrganizationChanges {
    /// New name.
    pub name: Option<OrganizationName>,
    /// New metadata (replaces the whole object).
    pub metadata: Option<Metadata>,
}

impl Organization {
    /// Founds a new organization. `id` and `now` come from the id source and the clock.
    #[must_use]
    pub fn found(
        id: OrganizationId,
        environment_id: EnvironmentId,
        name: OrganizationName,
        metadata: Metadata,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name,
            metadata,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored organization, re-checking its invariants.
    ///
    /// # Errors
    /// [`OrganizationStateError`] when `updated_at` precedes `created_at`.
    pub fn from_parts(parts: Self) -> Result<Self, OrganizationStateError> {
        if parts.updated_at < parts.created_at {
            return Err(OrganizationStateError(format!("organization {}", parts.id)));
        }
        Ok(parts)
    }

    /// Applies a partial update; `updated_at` never goes before `created_at`.
    pub fn apply(&mut self, changes: OrganizationChanges, now: Timestamp) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(metadata) = changes.metadata {
            self.metadata = metadata;
        }
        self.updated_at = now.max(self.created_at);
    }
}

/// A user's membership in an organization, with the roles held there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// Identity.
    pub id: MembershipId,
    /// The environment of the user, the organization and the roles.
    pub environment_id: EnvironmentId,
    /// The organization.
    pub organization_id: OrganizationId,
    /// The member.
    pub user_id: UserId,
    /// Roles held in the organization: distinct, in the order given.
    pub role_ids: Vec<RoleId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time (a change of roles).
    pub updated_at: Timestamp,
}

/// Why a list of roles cannot be held by a membership.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("role listed twice, at index {index}")]
pub struct DuplicateRole {
    /// Index of the second occurrence.
    pub index: usize,
}

/// Checks that `role_ids` holds no role twice.
///
/// # Errors
/// [`DuplicateRole`] with the index of the first repetition.
pub fn distinct_roles(role_ids: &[RoleId]) -> Result<(), DuplicateRole> {
    for (index, id) in role_ids.iter().enumerate() {
        if role_ids[..index].contains(id) {
            return Err(DuplicateRole { index });
        }
    }
    Ok(())
}

impl Membership {
    /// Admits `user_id` into `organization_id` with `role_ids`.
    ///
    /// # Errors
    /// [`DuplicateRole`] when a role is listed twice.
    pub fn admit(
        id: MembershipId,
        environment_id: EnvironmentId,
        organization_id: OrganizationId,
        user_id: UserId,
        role_ids: Vec<RoleId>,
        now: Timestamp,
    ) -> Result<Self, DuplicateRole> {
        distinct_roles(&role_ids)?;
        Ok(Self {
            id,
            environment_id,
            organization_id,
            user_id,
            role_ids,
            created_at: now,
            updated_at: now,
        })
    }

    /// Rebuilds a stored membership, re-checking its invariants.
    ///
    /// # Errors
    /// [`OrganizationStateError`] when `updated_at` precedes `created_at`
    /// or a role is held twice.
    pub fn from_parts(parts: Self) -> Result<Self, OrganizationStateError> {
        if parts.updated_at < parts.created_at || distinct_roles(&parts.role_ids).is_err() {
            return Err(OrganizationStateError(format!("membership {}", parts.id)));
        }
        Ok(parts)
    }

    /// Replaces the roles held.
    ///
    /// # Errors
    /// [`DuplicateRole`] when a role is listed twice; nothing changes then.
    pub fn replace_roles(
        &mut self,
        role_ids: Vec<RoleId>,
        now: Timestamp,
    ) -> Result<(), DuplicateRole> {
        distinct_roles(&role_ids)?;
        self.role_ids = role_ids;
        self.updated_at = now.max(self.created_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;
    use ulid::Ulid;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn role(n: u128) -> RoleId {
        RoleId::from_ulid(Ulid::from_parts(1, n))
    }

    fn acme() -> Organization {
        Organization::found(
            OrganizationId::from_ulid(Ulid::from_parts(1, 1)),
            EnvironmentId::from_ulid(Ulid::from_parts(1, 2)),
            OrganizationName::parse("Acme").unwrap(),
            Metadata::empty(),
            at(10),
        )
    }

    fn membership(roles: Vec<RoleId>) -> Result<Membership, DuplicateRole> {
        Membership::admit(
            MembershipId::from_ulid(Ulid::from_parts(1, 3)),
            EnvironmentId::from_ulid(Ulid::from_parts(1, 2)),
            OrganizationId::from_ulid(Ulid::from_parts(1, 1)),
            UserId::from_ulid(Ulid::from_parts(1, 4)),
            roles,
            at(10),
        )
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            OrganizationName::parse("  Acme Inc ").unwrap().as_str(),
            "Acme Inc"
        );
        assert_eq!(
            OrganizationName::parse(" \t ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            OrganizationName::parse(&"a".repeat(201)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert!(OrganizationName::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            OrganizationName::parse("Ac\u{7}me").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn apply_changes_only_given_fields_and_keeps_time_monotonic() {
        let mut org = acme();
        org.apply(
            OrganizationChanges {
                name: None,
                metadata: Some(Metadata::from_json_text(r#"{"tier":"gold"}"#.into()).unwrap()),
            },
            at(5),
        );
        assert_eq!(org.name.as_str(), "Acme");
        assert_eq!(org.metadata.as_str(), r#"{"tier":"gold"}"#);
        assert_eq!(org.updated_at, at(10));
        org.apply(
            OrganizationChanges {
                name: Some(OrganizationName::parse("Globex").unwrap()),
                metadata: None,
            },
            at(20),
        );
        assert_eq!(org.name.as_str(), "Globex");
        assert_eq!(org.updated_at, at(20));
    }

    #[test]
    fn from_parts_refuses_an_update_before_creation() {
        let mut org = acme();
        org.updated_at = at(1);
        assert!(Organization::from_parts(org).is_err());
        assert!(Organization::from_parts(acme()).is_ok());
    }

    #[test]
    fn a_membership_holds_each_role_once() {
        assert_eq!(
            membership(vec![role(1), role(2), role(1)]),
            Err(DuplicateRole { index: 2 })
        );
        let mut member = membership(vec![role(1), role(2)]).unwrap();
        assert_eq!(member.role_ids, vec![role(1), role(2)]);
        assert_eq!(
            member.replace_roles(vec![role(3), role(3)], at(20)),
            Err(DuplicateRole { index: 1 })
        );
        assert_eq!(
            member.role_ids,
            vec![role(1), role(2)],
            "unchanged on refusal"
        );
        member.replace_roles(vec![], at(20)).unwrap();
        assert!(member.role_ids.is_empty());
        assert_eq!(member.updated_at, at(20));
        let mut broken = member.clone();
        broken.role_ids = vec![role(1), role(1)];
        assert!(Membership::from_parts(broken).is_err());
        assert!(Membership::from_parts(member).is_ok());
    }
}
