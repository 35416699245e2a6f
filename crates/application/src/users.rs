//! The users collection: create, read, list, update and delete users of an
//! environment. Every input is checked before any slow or stored work, and
//! every change commits with its audit event.

#[cfg(test)]
use portcullis_domain::Timestamp;
use portcullis_domain::UserId;
use portcullis_domain::user::{
    Email, EmailError, Metadata, NewUser, Password, PasswordError, PersonName, User, UserChanges,
};
use portcullis_ports::crypto::CryptoError;
use portcullis_ports::store::{StoreError, Unique, UnitOfWork, UserQuery, UserSort};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// A new user as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    /// Required address.
    pub email: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Initial password.
    pub password: Option<String>,
    /// Its confirmation.
    pub password_confirmation: Option<String>,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Created blocked.
    pub blocked: bool,
    /// JSON object text.
    pub metadata: Option<String>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    /// New address.
    pub email: Option<String>,
    /// New given name; `Some(None)` clears it.
    pub first_name: Option<Option<String>>,
    /// New family name; `Some(None)` clears it.
    pub last_name: Option<Option<String>>,
    /// New password.
    pub password: Option<String>,
    /// Its confirmation.
    pub password_confirmation: Option<String>,
    /// New verification flag.
    pub email_verified: Option<bool>,
    /// New blocked flag.
    pub blocked: Option<bool>,
    /// New metadata, JSON object text.
    pub metadata: Option<String>,
}

/// Filters and order of a listing.
#[derive(Debug, Clone, Default)]
pub struct ListUsers {
    /// Exact address, parsed into its canonical form (so any case, and any
    /// look-alike that folds to it).
    pub email: Option<Email>,
    /// Substring of the address or a name, any case.
    pub search: Option<String>,
    /// Blocked or not.
    pub blocked: Option<bool>,
    /// Order by address instead of creation.
    pub sort_by_email: bool,
    /// The page.
    pub page: PageParams,
}

/// Why a user was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The environment has a user with this address.
    #[error("email already registered in this environment")]
    EmailTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Why a user was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    /// No such user in the environment.
    #[error("user not found")]
    NotFound,
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// Another user has this address.
    #[error("email already registered in this environment")]
    EmailTaken,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Why a user could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum UserLookupError {
    /// No such user in the environment.
    #[error("user not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn email_violation(error: &EmailError) -> FieldViolation {
    let code = match error {
        EmailError::Empty => "email_required",
        EmailError::TooLong => "email_too_long",
        EmailError::Malformed => "invalid_email",
        EmailError::InvisibleCharacter(_) => "email_invisible_character",
    };
    FieldViolation::new("email", code, error)
}

fn password_violation(error: &PasswordError) -> FieldViolation {
    match error {
        PasswordError::TooShort => FieldViolation::new("password", "password_too_short", error),
        PasswordError::TooLong => FieldViolation::new("password", "password_too_long", error),
        PasswordError::ConfirmationMismatch => FieldViolation::new(
            "password_confirmation",
            "password_confirmation_mismatch",
            error,
        ),
    }
}

pub(crate) fn parse_name(
    field: &'static str,
    raw: &str,
    violations: &mut Vec<FieldViolation>,
) -> Option<PersonName> {
    PersonName::parse(raw).unwrap_or_else(|e| {
        violations.push(FieldViolation::new(
            field,
            "invalid_name",
            format!("{field}: {e}"),
        ));
        None
    })
}

fn parse_metadata(raw: String, violations: &mut Vec<FieldViolation>) -> Option<Metadata> {
    Metadata::from_json_text(raw)
        .map_err(|e| violations.push(FieldViolation::new("metadata", "metadata_too_large", e)))
        .ok()
}

/// A password and its confirmation, both optional; a confirmation without a
/// password is a mismatch.
pub(crate) fn parse_password(
    raw: Option<String>,
    confirmation: Option<&str>,
    violations: &mut Vec<FieldViolation>,
) -> Option<Password> {
    match raw {
        Some(raw) => Password::parse(raw, confirmation)
            .map_err(|e| violations.push(password_violation(&e)))
            .ok(),
        None => {
            if confirmation.is_some() {
                violations.push(FieldViolation::new(
                    "password_confirmation",
                    "password_confirmation_mismatch",
                    "password_confirmation given without password",
                ));
            }
            None
        }
    }
}

/// The users collection.
pub struct UserService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for UserService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> UserService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// Creates a user; hashes its password first, outside the transaction.
    ///
    /// # Errors
    /// [`CreateUserError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateUser,
    ) -> Result<User, CreateUserError> {
        let mut violations = Vec::new();
        let email = Email::parse(&command.email)
            .map_err(|e| violations.push(email_violation(&e)))
            .ok();
        let first_name = command
            .first_name
            .as_deref()
            .and_then(|n| parse_name("first_name", n, &mut violations));
        let last_name = command
            .last_name
            .as_deref()
            .and_then(|n| parse_name("last_name", n, &mut violations));
        let metadata = command
            .metadata
            .and_then(|m| parse_metadata(m, &mut violations));
        let password = parse_password(
            command.password,
            command.password_confirmation.as_deref(),
            &mut violations,
        );
        let (Some(email), true) = (email, violations.is_empty()) else {
            return Err(CreateUserError::Invalid(violations));
        };
        let password_hash = match password {
            Some(password) => Some(self.ports.hasher.hash_password(password).await?),
            None => None,
        };
        let new = NewUser {
            email,
            first_name,
            last_name,
            password_hash,
            email_verified: command.email_verified,
            blocked: command.blocked,
            metadata: metadata.unwrap_or_default(),
        };
        let user = User::register(
            UserId::from_ulid(self.ports.ids.next_ulid()),
            actor.environment_id(),
            new,
            self.ports.clock.now(),
        );
        let event = self
            .ports
            .event(actor, "user.created", &representation::user(&user));
        let stored = user.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_user(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::UserEmail) => CreateUserError::EmailTaken,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok::<_, CreateUserError>(())
            })
            .await?;
        Ok(user)
    }

    /// One user.
    ///
    /// # Errors
    /// [`UserLookupError`].
    pub async fn get(&self, actor: &Actor, id: UserId) -> Result<User, UserLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_user(env, id))
            .await?
            .ok_or(UserLookupError::NotFound)
    }

    /// One page of users.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(&self, actor: &Actor, query: ListUsers) -> Result<Page<User>, StoreError> {
        let env = actor.environment_id();
        let sort = if query.sort_by_email {
            UserSort::Email
        } else {
            UserSort::CreatedAt
        };
        let store_query = UserQuery {
            email: query.email.map(|e| e.as_str().to_owned()),
            search: query.search.filter(|s| !s.is_empty()),
            blocked: query.blocked,
            sort,
            page: query.page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_users(env, &store_query))
            .await?;
        Ok(query.page.page(rows, |user| match sort {
            UserSort::CreatedAt => user.id().to_string(),
            UserSort::Email => user.email().as_str().to_owned(),
        }))
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`UpdateUserError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: UserId,
        command: UpdateUser,
    ) -> Result<User, UpdateUserError> {
        let mut violations = Vec::new();
        let email = command.email.and_then(|raw| {
            Email::parse(&raw)
                .map_err(|e| violations.push(email_violation(&e)))
                .ok()
        });
        let first_name = command
            .first_name
            .map(|n| n.and_then(|n| parse_name("first_name", &n, &mut violations)));
        let last_name = command
            .last_name
            .map(|n| n.and_then(|n| parse_name("last_name", &n, &mut violations)));
        let metadata = command
            .metadata
            .and_then(|m| parse_metadata(m, &mut violations));
        let password = parse_password(
            command.password,
            command.password_confirmation.as_deref(),
            &mut violations,
        );
        if !violations.is_empty() {
            return Err(UpdateUserError::Invalid(violations));
        }
        let password_hash = match password {
            Some(password) => Some(self.ports.hasher.hash_password(password).await?),
            None => None,
        };
        let changes = UserChanges {
            email,
            first_name,
            last_name,
            password_hash,
            email_verified: command.email_verified,
            blocked: command.blocked,
            metadata,
        };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut user = tx.find_user(env, id)?.ok_or(UpdateUserError::NotFound)?;
                let blocking_began = user.apply(changes, now);
                tx.update_user(&user).map_err(|e| match e {
                    StoreError::Conflict(Unique::UserEmail) => UpdateUserError::EmailTaken,
                    StoreError::NotFound => UpdateUserError::NotFound,
                    other => other.into(),
                })?;
                if blocking_began {
                    // Blocking revokes the user's sessions, one event per session.
                    for session in tx.revoke_sessions_of_user(env, id, now)? {
                        tx.append_event(&ports.event(
                            &actor,
                            "session.revoked",
                            &representation::session(&session, now),
                        ))?;
                    }
                }
                tx.append_event(&ports.event(
                    &actor,
                    "user.updated",
                    &representation::user(&user),
                ))?;
                Ok(user)
            })
            .await
    }

    /// Deletes a user.
    ///
    /// # Errors
    /// [`UserLookupError`].
    pub async fn delete(&self, actor: &Actor, id: UserId) -> Result<(), UserLookupError> {
        let env = actor.environment_id();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let user = tx.find_user(env, id)?.ok_or(UserLookupError::NotFound)?;
                if !tx.delete_user(env, id)? {
                    return Err(UserLookupError::NotFound);
                }
                tx.append_event(&ports.event(
                    &actor,
                    "user.deleted",
                    &representation::user(&user),
                ))?;
                Ok::<_, UserLookupError>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::EnvironmentId;
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (UserService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (UserService::new(fixed_ports(uow.clone(), None)), uow)
    }

    fn jane() -> CreateUser {
        CreateUser {
            email: " Jane@Example.com ".into(),
            first_name: Some("Jane".into()),
            password: Some("correct horse".into()),
            password_confirmation: Some("correct horse".into()),
            ..CreateUser::default()
        }
    }

    #[tokio::test]
    async fn create_stores_the_hashed_user_and_its_event_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_insert_user()
            .withf(|u| {
                u.email().as_str() == "jane@example.com"
                    && u.password_hash()
                        .is_some_and(|h| h.as_str() == "hash:correct horse")
                    && u.created_at() == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "user.created"
                    && e.resource_type == "user"
                    && e.actor == "system"
                    && !e.data.contains("correct horse")
                    && !e.data.contains("hash:")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let user = service.create(&actor(), jane()).await.unwrap();

        assert_eq!(user.first_name().map(PersonName::as_str), Some("Jane"));
        assert_eq!(
            uow.log(),
            UowLog {
                committed: 1,
                rolled_back: 0,
                reads: 0
            }
        );
    }

    #[tokio::test]
    async fn every_invalid_attribute_is_reported_and_nothing_is_touched() {
        let (service, uow) = service(MockTx::new());
        let command = CreateUser {
            email: "not-an-address".into(),
            last_name: Some("x".repeat(101)),
            password: Some("short".into()),
            metadata: Some("x".repeat(17 * 1024)),
            ..CreateUser::default()
        };

        let Err(CreateUserError::Invalid(violations)) = service.create(&actor(), command).await
        else {
            panic!("expected violations");
        };

        let codes: Vec<_> = violations.iter().map(|v| (v.field, v.code)).collect();
        assert_eq!(
            codes,
            [
                ("email", "invalid_email"),
                ("last_name", "invalid_name"),
                ("metadata", "metadata_too_large"),
                ("password", "password_too_short")
            ]
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn a_mismatched_confirmation_points_at_the_confirmation() {
        let (service, _) = service(MockTx::new());
        let command = CreateUser {
            password_confirmation: Some("correct horsf".into()),
            ..jane()
        };
        let Err(CreateUserError::Invalid(violations)) = service.create(&actor(), command).await
        else {
            panic!("expected violations");
        };
        assert_eq!(violations[0].field, "password_confirmation");
    }

    #[tokio::test]
    async fn a_taken_email_is_a_conflict_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_insert_user()
            .returning(|_| Err(StoreError::Conflict(Unique::UserEmail)));
        let (service, uow) = service(tx);

        let err = service.create(&actor(), jane()).await.unwrap_err();

        assert!(matches!(err, CreateUserError::EmailTaken));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn update_of_a_missing_user_is_not_found_and_rolls_back() {
        let mut tx = MockTx::new();
        tx.expect_find_user().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let id = UserId::from_ulid(ulid::Ulid::from_parts(1, 1));

        let err = service
            .update(
                &actor(),
                id,
                UpdateUser {
                    blocked: Some(true),
                    ..UpdateUser::default()
                },
            )
            .await;

        assert!(matches!(err, Err(UpdateUserError::NotFound)));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn update_applies_changes_and_records_them() {
        let existing = User::register(
            UserId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            NewUser::with_email(Email::parse("a@example.com").unwrap()),
            Timestamp::from_unix_micros(1).unwrap(),
        );
        let mut tx = MockTx::new();
        let found = existing.clone();
        tx.expect_find_user()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_update_user()
            .withf(|u| u.blocked() && u.last_name().is_none() && u.updated_at() == now())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_revoke_sessions_of_user()
            .times(1)
            .returning(|_, _, _| Ok(Vec::new()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "user.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let updated = service
            .update(
                &actor(),
                existing.id(),
                UpdateUser {
                    blocked: Some(true),
                    last_name: Some(None),
                    ..UpdateUser::default()
                },
            )
            .await
            .unwrap();

        assert!(updated.blocked());
        assert_eq!(uow.log().committed, 1);
    }

    fn open_session(user: &User, n: u128) -> portcullis_domain::session::Session {
        portcullis_domain::session::Session::open(
            portcullis_domain::SessionId::from_ulid(ulid::Ulid::from_parts(5, n)),
            user.environment_id(),
            portcullis_domain::session::NewSession {
                user_id: user.id(),
                ip_address: None,
                user_agent: None,
                expires_at: now().plus_seconds(60),
            },
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    #[tokio::test]
    async fn blocking_revokes_the_sessions_in_the_same_transaction_one_event_each() {
        let existing = User::register(
            UserId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            NewUser::with_email(Email::parse("a@example.com").unwrap()),
            Timestamp::from_unix_micros(1).unwrap(),
        );
        let mut tx = MockTx::new();
        let found = existing.clone();
        tx.expect_find_user()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_update_user().times(1).returning(|_| Ok(()));
        let revoked: Vec<_> = (1..=2)
            .map(|n| {
                let mut s = open_session(&existing, n);
                s.revoke(now());
                s
            })
            .collect();
        let user_id = existing.id();
        tx.expect_revoke_sessions_of_user()
            .withf(move |env, user, at| {
                *env == actor().environment_id() && *user == user_id && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(revoked.clone()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "session.revoked" && e.data.contains("\"revoked\""))
            .times(2)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "user.updated")
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        service
            .update(
                &actor(),
                existing.id(),
                UpdateUser {
                    blocked: Some(true),
                    ..UpdateUser::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn updating_an_already_blocked_user_revokes_nothing() {
        let mut new = NewUser::with_email(Email::parse("a@example.com").unwrap());
        new.blocked = true;
        let existing = User::register(
            UserId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            new,
            Timestamp::from_unix_micros(1).unwrap(),
        );
        let mut tx = MockTx::new();
        let found = existing.clone();
        tx.expect_find_user()
            .returning(move |_, _| Ok(Some(found.clone())));
        tx.expect_update_user().times(1).returning(|_| Ok(()));
        tx.expect_revoke_sessions_of_user().never();
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _) = service(tx);
        service
            .update(
                &actor(),
                existing.id(),
                UpdateUser {
                    blocked: Some(true),
                    ..UpdateUser::default()
                },
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn listing_by_email_hands_out_the_last_email_as_cursor() {
        let mut tx = MockTx::new();
        tx.expect_list_users()
            .withf(|_, q| {
                q.sort == UserSort::Email
                    && q.page.limit == 3
                    && q.email.as_deref() == Some("x@y.io")
            })
            .returning(|env, _| {
                Ok(["a@x.io", "b@x.io", "c@x.io"]
                    .iter()
                    .enumerate()
                    .map(|(i, e)| {
                        User::register(
                            UserId::from_ulid(ulid::Ulid::from_parts(1, i as u128)),
                            env,
                            NewUser::with_email(Email::parse(e).unwrap()),
                            now(),
                        )
                    })
                    .collect())
            });
        let (service, _) = service(tx);
        let query = ListUsers {
            email: Some(Email::parse(" X@Y.io").unwrap()),
            sort_by_email: true,
            page: PageParams {
                size: 2,
                ..PageParams::default()
            },
            ..ListUsers::default()
        };

        let page = service.list(&actor(), query).await.unwrap();

        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_after.as_deref(), Some("b@x.io"));
    }
}
