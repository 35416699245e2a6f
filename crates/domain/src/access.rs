//! Access control: permissions an environment defines (`read:reports`),
//! which roles and users are later granted. Value objects parse their input
//! once, so that a `Permission` can only hold valid data.

use crate::text::TextRules;
use crate::{EnvironmentId, PermissionId, RoleId, RolePermissionId, Timestamp, UserId, UserRoleId};

crate::bounded_text! {
    /// A permission name: trimmed, 1 to 100 characters, no whitespace or
    /// control characters. Its case is kept (and matters for uniqueness).
    pub struct PermissionName = TextRules::token("name", 100);
}

crate::bounded_text! {
    /// A free-text description: at most 500 characters, no control characters
    /// other than newline and tab; empty is allowed. Kept as given (not trimmed).
    #[derive(Default)]
    pub struct Description = TextRules {
        trim: false,
        line_breaks: true,
        ..TextRules::name("description", 500).or_empty()
    };
}

impl Description {
    /// The empty description.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }
}

/// A permission of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// Identity.
    pub id: PermissionId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Name, unique per environment.
    pub name: PermissionName,
    /// What the permission allows.
    pub description: Description,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A stored permission whose timestamps contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("permission {0} was updated before it was created")]
pub struct PermissionStateError(pub PermissionId);

/// A partial update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PermissionChanges {
    /// New name.
    pub name: Option<PermissionName>,
    /// New description.
    pub description: Option<Description>,
}

impl Permission {
    /// Defines a new permission. `id` and `now` come from the id source and the clock.
    #[must_use]
    pub fn define(
        id: PermissionId,
        environment_id: EnvironmentId,
        name: PermissionName,
        description: Description,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name,
            description,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored permission, re-checking its invariants.
    ///
    /// # Errors
    /// [`PermissionStateError`] when `updated_at` precedes `created_at`.
    pub fn from_parts(parts: Self) -> Result<Self, PermissionStateError> {
        if parts.updated_at < parts.created_at {
            return Err(PermissionStateError(parts.id));
        }
        Ok(parts)
    }

    /// Applies a partial update.
    pub fn apply(&mut self, changes: PermissionChanges, now: Timestamp) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        self.updated_at = now.max(self.created_at);
    }
}

crate::bounded_text! {
    /// A role name: trimmed, 1 to 100 characters, no control characters (inner
    /// spaces are allowed: `Report Readers`). Its case is kept.
    pub struct RoleName = TextRules::name("name", 100);
}

/// A role of an environment: a named set of permissions given to users.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Identity.
    pub id: RoleId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Name, unique per environment.
    pub name: RoleName,
    /// What the role is for.
    pub description: Description,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A stored role whose timestamps contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("role {0} was updated before it was created")]
pub struct RoleStateError(pub RoleId);

/// A partial update of a role; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct RoleChanges {
    /// New name.
    pub name: Option<RoleName>,
    /// New description.
    pub description: Option<Description>,
}

impl Role {
    /// Defines a new role. `id` and `now` come from the id source and the clock.
    #[must_use]
    pub fn define(
        id: RoleId,
        environment_id: EnvironmentId,
        name: RoleName,
        description: Description,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name,
            description,
            created_at: now,
            updated_at: now,
        }
    }

    /// Rebuilds a stored role, re-checking its invariants.
    ///
    /// # Errors
    /// [`RoleStateError`] when `updated_at` precedes `created_at`.
    pub fn from_parts(parts: Self) -> Result<Self, RoleStateError> {
        if parts.updated_at < parts.created_at {
            return Err(RoleStateError(parts.id));
        }
        Ok(parts)
    }

    /// Applies a partial update.
    pub fn apply(&mut self, changes: RoleChanges, now: Timestamp) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        self.updated_at = now.max(self.created_at);
    }
}

/// A permission granted to a role (a join; immutable once created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolePermission {
    /// Identity.
    pub id: RolePermissionId,
    /// The environment of the role and the permission.
    pub environment_id: EnvironmentId,
    /// The role.
    pub role_id: RoleId,
    /// The permission granted to it.
    pub permission_id: PermissionId,
    /// Creation time.
    pub created_at: Timestamp,
}

impl RolePermission {
    /// Grants `permission_id` to `role_id`, both of `environment_id`.
    #[must_use]
    pub fn grant(
        id: RolePermissionId,
        environment_id: EnvironmentId,
        role_id: RoleId,
        permission_id: PermissionId,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            role_id,
            permission_id,
            created_at: now,
        }
    }
}

/// A role held by a user (a join; immutable once created).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRole {
    /// Identity.
    pub id: UserRoleId,
    /// The environment of the user and the role.
    pub environment_id: EnvironmentId,
    /// The user.
    pub user_id: UserId,
    /// The role assigned to the user.
    pub role_id: RoleId,
    /// Creation time.
    pub created_at: Timestamp,
}

impl UserRole {
    /// Assigns `role_id` to `user_id`, both of `environment_id`.
    #[must_use]
    pub fn assign(
        id: UserRoleId,
        environment_id: EnvironmentId,
        user_id: UserId,
        role_id: RoleId,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            user_id,
            role_id,
            created_at: now,
        }
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

    fn permission() -> Permission {
        Permission::define(
            PermissionId::from_ulid(Ulid::nil()),
            EnvironmentId::from_ulid(Ulid::nil()),
            PermissionName::parse("read:reports").unwrap(),
            Description::empty(),
            at(1_000),
        )
    }

    #[test]
    fn names_are_trimmed_and_keep_their_case() {
        assert_eq!(
            PermissionName::parse("  Read:Reports ").unwrap().as_str(),
            "Read:Reports"
        );
        assert!(PermissionName::parse(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(
            PermissionName::parse("  ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            PermissionName::parse(&"a".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        for bad in ["read reports", "read\treports", "a\u{0}b", "a\u{a0}b"] {
            assert_eq!(
                PermissionName::parse(bad).map_err(|e| e.problem),
                Err(TextProblem::InvalidCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn descriptions_allow_newlines_and_tabs_and_are_bounded() {
        assert_eq!(Description::parse("").unwrap(), Description::empty());
        assert_eq!(
            Description::parse("line one\n\tline two").unwrap().as_str(),
            "line one\n\tline two"
        );
        assert!(Description::parse(&"é".repeat(500)).is_ok());
        assert_eq!(
            Description::parse(&"x".repeat(501)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            Description::parse("bell\u{7}").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn changes_apply_and_move_updated_at() {
        let mut permission = permission();
        permission.apply(
            PermissionChanges {
                description: Some(Description::parse("Reads reports").unwrap()),
                ..PermissionChanges::default()
            },
            at(2_000),
        );
        assert_eq!(permission.name.as_str(), "read:reports");
        assert_eq!(permission.description.as_str(), "Reads reports");
        assert_eq!(permission.updated_at, at(2_000));
        // A clock running backwards never puts updated_at before created_at.
        permission.apply(PermissionChanges::default(), at(10));
        assert_eq!(permission.updated_at, at(1_000));
    }

    #[test]
    fn stored_permissions_updated_before_creation_are_refused() {
        let mut parts = permission();
        assert!(Permission::from_parts(parts.clone()).is_ok());
        parts.updated_at = at(500);
        assert!(Permission::from_parts(parts).is_err());
    }
    #[test]
    fn role_names_allow_inner_spaces_but_no_control_characters() {
        assert_eq!(
            RoleName::parse("  Report Readers ").unwrap().as_str(),
            "Report Readers"
        );
        assert!(RoleName::parse(&"a".repeat(100)).is_ok());
        assert_eq!(
            RoleName::parse(" \t ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            RoleName::parse(&"a".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            RoleName::parse("a\u{0}b").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn role_changes_apply_and_stored_roles_are_checked() {
        let mut role = Role::define(
            RoleId::from_ulid(Ulid::nil()),
            EnvironmentId::from_ulid(Ulid::nil()),
            RoleName::parse("admin").unwrap(),
            Description::empty(),
            at(1_000),
        );
        role.apply(
            RoleChanges {
                name: Some(RoleName::parse("Admins").unwrap()),
                ..RoleChanges::default()
            },
            at(2_000),
        );
        assert_eq!(role.name.as_str(), "Admins");
        assert_eq!(role.updated_at, at(2_000));
        role.apply(RoleChanges::default(), at(10));
        assert_eq!(role.updated_at, at(1_000));
        assert!(Role::from_parts(role.clone()).is_ok());
        role.updated_at = at(500);
        assert_eq!(Role::from_parts(role.clone()), Err(RoleStateError(role.id)));
    }

    #[test]
    fn a_grant_keeps_its_pair_and_time() {
        let grant = RolePermission::grant(
            RolePermissionId::from_ulid(Ulid::nil()),
            EnvironmentId::from_ulid(Ulid::nil()),
            RoleId::from_ulid(Ulid::from_parts(1, 1)),
            PermissionId::from_ulid(Ulid::from_parts(2, 2)),
            at(5),
        );
        assert_eq!(grant.role_id, RoleId::from_ulid(Ulid::from_parts(1, 1)));
        assert_eq!(
            grant.permission_id,
            PermissionId::from_ulid(Ulid::from_parts(2, 2))
        );
        assert_eq!(grant.created_at, at(5));
    }
}
