//! From diesel errors to the ports' [`StoreError`]: unique violations become
//! domain conflicts by constraint name, lost connections become
//! `Unavailable`, and everything else stays an opaque `Backend` failure.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};
use portcullis_ports::store::{StoreError, Unique};

use crate::Backend;

/// Every unique constraint that means a domain conflict: its name (as the
/// migrations spell it on both backends), the column list SQLite reports for
/// it, and the conflict.
const UNIQUES: [(&str, &str, Unique); 13] = [
    (
        "environments_slug_key",
        "environments.slug",
        Unique::EnvironmentSlug,
    ),
    (
        "users_environment_id_email_key",
        "users.environment_id, users.email",
        Unique::UserEmail,
    ),
    (
        "clients_environment_id_client_id_key",
        "clients.environment_id, clients.client_id",
        Unique::ClientId,
    ),
    (
        "resource_servers_environment_id_identifier_key",
        "resource_servers.environment_id, resource_servers.identifier",
        Unique::ResourceServerIdentifier,
    ),
    (
        "scopes_resource_server_id_name_key",
        "scopes.resource_server_id, scopes.name",
        Unique::ScopeName,
    ),
    (
        "client_grants_client_id_resource_server_id_key",
        "client_grants.client_id, client_grants.resource_server_id",
        Unique::ClientGrant,
    ),
    (
        "signing_keys_environment_id_kid_key",
        "signing_keys.environment_id, signing_keys.kid",
        Unique::SigningKeyKid,
    ),
    (
        "permissions_environment_id_name_key",
        "permissions.environment_id, permissions.name",
        Unique::PermissionName,
    ),
    (
        "roles_environment_id_name_key",
        "roles.environment_id, roles.name",
        Unique::RoleName,
    ),
    (
        "role_permissions_role_id_permission_id_key",
        "role_permissions.role_id, role_permissions.permission_id",
        Unique::RolePermission,
    ),
    (
        "user_roles_user_id_role_id_key",
        "user_roles.user_id, user_roles.role_id",
        Unique::UserRole,
    ),
    (
        "memberships_organization_id_user_id_key",
        "memberships.organization_id, memberships.user_id",
        Unique::Membership,
    ),
    (
        "actions_environment_id_trigger_key",
        "actions.environment_id, actions.trigger",
        Unique::ActionTrigger,
    ),
];

/// The prefix of SQLite's message for a unique violation.
const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

/// Which domain conflict a unique violation reports, if it is one.
fn unique_of(backend: Backend, info: &dyn DatabaseErrorInformation) -> Option<Unique> {
    match backend {
        Backend::Postgres => {
            let name = info.constraint_name()?;
            UNIQUES
                .iter()
                .find(|(constraint, _, _)| *constraint == name)
                .map(|(_, _, unique)| *unique)
        }
        // The one place where SQLite forces us to read the message: diesel's
        // SQLite error carries no constraint name (`constraint_name()` is
        // `None`), and SQLite itself reports a unique violation as
        // "UNIQUE constraint failed: <table>.<column>, ..." whatever the
        // constraint is called. The column list identifies the constraint
        // exactly, since each table has at most one unique key per column set.
        Backend::Sqlite => {
            let columns = info.message().strip_prefix(SQLITE_UNIQUE_PREFIX)?;
            UNIQUES
                .iter()
                .find(|(_, sqlite_columns, _)| *sqlite_columns == columns)
                .map(|(_, _, unique)| *unique)
        }
    }
}

/// Whether SQLite's message reports `SQLITE_BUSY` or `SQLITE_LOCKED`
/// ("database is locked", "database table is locked", "database schema is
/// locked"): diesel has no kind for them.
fn is_sqlite_busy(message: &str) -> bool {
    message.starts_with("database") && message.ends_with("is locked")
        || message == "database is busy"
}

/// Maps a diesel error of a statement run on `backend`.
pub(crate) fn from_diesel(backend: Backend, err: Error) -> StoreError {
    match err {
        Error::NotFound => StoreError::NotFound,
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            match unique_of(backend, info.as_ref()) {
                Some(unique) => StoreError::Conflict(unique),
                None => StoreError::Backend(Box::new(Error::DatabaseError(
                    DatabaseErrorKind::UniqueViolation,
                    info,
                ))),
            }
        }
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::MissingReference
        }
        // Retryable: the connection is gone, PostgreSQL gave up a
        // transaction in a serialization conflict or a deadlock, or SQLite's
        // single writer stayed busy past the busy timeout.
        err @ Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure,
            _,
        ) => StoreError::Unavailable(Box::new(err)),
        Error::DatabaseError(kind, info)
            if backend == Backend::Sqlite && is_sqlite_busy(info.message()) =>
        {
            StoreError::Unavailable(Box::new(Error::DatabaseError(kind, info)))
        }
        err => StoreError::Backend(Box::new(err)),
    }
}

/// A stored value that breaks the domain's rules.
#[derive(Debug, thiserror::Error)]
#[error("{table}.{column} holds an invalid value: {reason}")]
pub(crate) struct CorruptValue {
    /// The table.
    pub(crate) table: &'static str,
    /// The column.
    pub(crate) column: &'static str,
    /// Why the value is invalid.
    pub(crate) reason: String,
}

/// A `StoreError::Corrupt` for a value of `table.column`.
pub(crate) fn corrupt(
    table: &'static str,
    column: &'static str,
    reason: impl std::fmt::Display,
) -> StoreError {
    StoreError::Corrupt(Box::new(CorruptValue {
        table,
        column,
        reason: reason.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Info {
        message: &'static str,
        constraint: Option<&'static str>,
    }

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.message
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            self.constraint
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn unique(message: &'static str, constraint: Option<&'static str>) -> Error {
        Error::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(Info {
                message,
                constraint,
            }),
        )
    }

    #[test]
    fn a_foreign_key_violation_is_a_missing_reference_on_both_backends() {
        for backend in [Backend::Postgres, Backend::Sqlite] {
            let err = Error::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                Box::new(Info {
                    message: "FOREIGN KEY constraint failed",
                    constraint: None,
                }),
            );
            assert!(matches!(
                from_diesel(backend, err),
                StoreError::MissingReference
            ));
        }
    }

    #[test]
    fn postgres_conflicts_are_told_apart_by_constraint_name_only() {
        let err = unique(
            "duplicate key value violates unique constraint \"users_environment_id_email_key\"",
            Some("users_environment_id_email_key"),
        );
        assert!(matches!(
            from_diesel(Backend::Postgres, err),
            StoreError::Conflict(Unique::UserEmail)
        ));
        // A message naming a known constraint does not count without the name.
        let err = unique("users_environment_id_email_key", Some("users_pkey"));
        assert!(matches!(
            from_diesel(Backend::Postgres, err),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn sqlite_conflicts_are_told_apart_by_column_list() {
        for (_, columns, expected) in UNIQUES {
            let message: &'static str =
                Box::leak(format!("{SQLITE_UNIQUE_PREFIX}{columns}").into_boxed_str());
            match from_diesel(Backend::Sqlite, unique(message, None)) {
                StoreError::Conflict(got) => assert_eq!(got, expected),
                other => panic!("{columns}: {other:?}"),
            }
        }
        assert!(matches!(
            from_diesel(
                Backend::Sqlite,
                unique("UNIQUE constraint failed: users.id", None)
            ),
            StoreError::Backend(_)
        ));
    }

    #[test]
    fn not_found_and_lost_connections_keep_their_meaning() {
        assert!(matches!(
            from_diesel(Backend::Postgres, Error::NotFound),
            StoreError::NotFound
        ));
        let closed = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_owned()),
        );
        assert!(matches!(
            from_diesel(Backend::Postgres, closed),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn a_busy_sqlite_and_a_serialization_failure_are_retryable() {
        let busy = |message: &'static str| {
            Error::DatabaseError(
                DatabaseErrorKind::Unknown,
                Box::new(Info {
                    message,
                    constraint: None,
                }),
            )
        };
        for message in ["database is locked", "database table is locked"] {
            assert!(
                matches!(
                    from_diesel(Backend::Sqlite, busy(message)),
                    StoreError::Unavailable(_)
                ),
                "{message}"
            );
        }
        assert!(matches!(
            from_diesel(Backend::Sqlite, busy("no such table: x")),
            StoreError::Backend(_)
        ));
        assert!(matches!(
            from_diesel(Backend::Postgres, busy("database is locked")),
            StoreError::Backend(_)
        ));
        let conflict = Error::DatabaseError(
            DatabaseErrorKind::SerializationFailure,
            Box::new(Info {
                message: "could not serialize access",
                constraint: None,
            }),
        );
        assert!(matches!(
            from_diesel(Backend::Postgres, conflict),
            StoreError::Unavailable(_)
        ));
    }
}
