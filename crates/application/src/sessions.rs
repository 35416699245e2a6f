//! The sessions collection: open a session for a user, read, list (by user,
//! active or not), touch, revoke and delete the sessions of an environment.
//! A blocked user gets no new session; the status is derived from the
//! clock. Every change commits with its audit event.

use portcullis_domain::session::{
    IpAddress, NewSession, Session, SessionStateError, UserAgent, UserAgentError,
};
use portcullis_domain::{SessionId, Timestamp, UserId};
use portcullis_ports::store::{SessionQuery, StoreError, UnitOfWork};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;
use crate::validation::{Lifetimes, parse_expiry};

/// How long sessions last.
pub type SessionLimits = Lifetimes;

/// A new session as the caller sent it; values are checked by the service.
#[derive(Debug, Clone)]
pub struct CreateSession {
    /// The user (already a parsed id).
    pub user: UserId,
    /// IPv4 or IPv6 address.
    pub ip_address: Option<String>,
    /// User agent string.
    pub user_agent: Option<String>,
    /// RFC 3339 expiry.
    pub expires_at: Option<String>,
}

/// Why a session was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateSessionError {
    /// Attributes that break a rule.
    #[error("invalid session attributes")]
    Invalid(Vec<FieldViolation>),
    /// No such user in the environment.
    #[error("user not found in this environment")]
    UnknownUser,
    /// The user is blocked.
    #[error("the user is blocked")]
    UserBlocked,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a session could not be read, revoked or deleted.
#[derive(Debug, thiserror::Error)]
pub enum SessionLookupError {
    /// No such session in the environment.
    #[error("session not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a session could not be touched.
#[derive(Debug, thiserror::Error)]
pub enum TouchSessionError {
    /// No such session in the environment.
    #[error("session not found")]
    NotFound,
    /// The session is revoked or expired.
    #[error(transparent)]
    State(#[from] SessionStateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Filters of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only the sessions of this user.
    pub user: Option<UserId>,
    /// Only active (or only inactive) sessions, at the clock's now.
    pub active: Option<bool>,
}

/// A session with the instant its status was derived at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// The clock's now when it was read or written.
    pub now: Timestamp,
}

/// The sessions collection.
pub struct SessionService<U> {
    ports: Ports<U>,
    limits: SessionLimits,
}

impl<U> std::fmt::Debug for SessionService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> SessionService<U> {
    /// A service on `ports` with `limits`.
    pub fn new(ports: Ports<U>, limits: SessionLimits) -> Self {
        Self { ports, limits }
    }

    /// Opens a session for a user of the caller's environment that is not blocked.
    ///
    /// # Errors
    /// [`CreateSessionError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateSession,
    ) -> Result<SessionView, CreateSessionError> {
        let now = self.ports.clock.now();
        let mut violations = Vec::new();
        let ip_address = command.ip_address.as_deref().and_then(|raw| {
            IpAddress::parse(raw)
                .map_err(|e| {
                    violations.push(FieldViolation::new("ip_address", "invalid_ip_address", e));
                })
                .ok()
        });
        let user_agent = command.user_agent.as_deref().and_then(|raw| {
            UserAgent::parse(raw)
                .map_err(|e| {
                    let code = match e {
                        UserAgentError::TooLong => "user_agent_too_long",
                        UserAgentError::ControlCharacter => "invalid_user_agent",
                    };
                    violations.push(FieldViolation::new("user_agent", code, e));
                })
                .ok()
        });
        let expires_at = match command.expires_at.as_deref() {
            Some(raw) => parse_expiry(raw, now, self.limits.max_ttl_seconds, &mut violations),
            None => Some(now.plus_seconds(self.limits.default_ttl_seconds)),
        };
        let (Some(expires_at), true) = (expires_at, violations.is_empty()) else {
            return Err(CreateSessionError::Invalid(violations));
        };
        let env = actor.environment_id();
        let user = command.user;
        let session = Session::open(
            SessionId::from_ulid(self.ports.ids.next_ulid()),
            env,
            NewSession {
                user_id: user,
                ip_address,
                user_agent,
                expires_at,
            },
            now,
        );
        let event = self.ports.event(
            actor,
            "session.created",
            &representation::session(&session, now),
        );
        let stored = session.clone();
        self.ports
            .store
            .transaction(move |tx| {
                // Locked: a concurrent block of this user either commits
                // first (and is seen here) or waits for this session and
                // then revokes it.
                let owner = tx
                    .lock_user(env, user)?
                    .ok_or(CreateSessionError::UnknownUser)?;
                if owner.blocked() {
                    return Err(CreateSessionError::UserBlocked);
                }
                tx.insert_session(&stored).map_err(|e| match e {
                    StoreError::MissingReference => CreateSessionError::UnknownUser,
                    other => other.into(),
                })?;
                tx.append_event(&event)?;
                Ok(())
            })
            .await?;
        Ok(SessionView { session, now })
    }

    /// One session.
    ///
    /// # Errors
    /// [`SessionLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: SessionId,
    ) -> Result<SessionView, SessionLookupError> {
        let env = actor.environment_id();
        let session = self
            .ports
            .store
            .read(move |tx| tx.find_session(env, id))
            .await?
            .ok_or(SessionLookupError::NotFound)?;
        Ok(SessionView {
            session,
            now: self.ports.clock.now(),
        })
    }

    /// One page of sessions, in creation order; `active` is evaluated at
    /// the clock's now, in the query.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: SessionFilter,
        page: PageParams,
    ) -> Result<(Page<Session>, Timestamp), StoreError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let query = SessionQuery {
            user: filter.user,
            active: filter.active,
            now,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_sessions(env, &query))
            .await?;
        Ok((page.page(rows, |s| s.id.to_string()), now))
    }

    /// Records activity now.
    ///
    /// # Errors
    /// [`TouchSessionError`].
    pub async fn touch(
        &self,
        actor: &Actor,
        id: SessionId,
    ) -> Result<SessionView, TouchSessionError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        let session = self
            .ports
            .store
            .transaction(move |tx| {
                let mut session = tx
                    .find_session(env, id)?
                    .ok_or(TouchSessionError::NotFound)?;
                session.touch(now)?;
                tx.update_session(&session).map_err(|e| match e {
                    StoreError::NotFound => TouchSessionError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "session.touched",
                    &representation::session(&session, now),
                ))?;
                Ok::<_, TouchSessionError>(session)
            })
            .await?;
        Ok(SessionView { session, now })
    }

    /// Revokes a session; revoking a revoked session changes nothing and
    /// writes no event.
    ///
    /// # Errors
    /// [`SessionLookupError`].
    pub async fn revoke(
        &self,
        actor: &Actor,
        id: SessionId,
    ) -> Result<SessionView, SessionLookupError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        let session = self
            .ports
            .store
            .transaction(move |tx| {
                let mut session = tx
                    .find_session(env, id)?
                    .ok_or(SessionLookupError::NotFound)?;
                if !session.revoke(now) {
                    return Ok::<_, SessionLookupError>(session);
                }
                tx.update_session(&session).map_err(|e| match e {
                    StoreError::NotFound => SessionLookupError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "session.revoked",
                    &representation::session(&session, now),
                ))?;
                Ok::<_, SessionLookupError>(session)
            })
            .await?;
        Ok(SessionView { session, now })
    }

    /// Deletes a session.
    ///
    /// # Errors
    /// [`SessionLookupError`].
    pub async fn delete(&self, actor: &Actor, id: SessionId) -> Result<(), SessionLookupError> {
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let session = tx
                    .find_session(env, id)?
                    .ok_or(SessionLookupError::NotFound)?;
                if !tx.delete_session(env, id)? {
                    return Err(SessionLookupError::NotFound);
                }
                tx.append_event(&ports.event(
                    &actor,
                    "session.deleted",
                    &representation::session(&session, now),
                ))?;
                Ok::<_, SessionLookupError>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::EnvironmentId;
    use portcullis_domain::session::SessionStatus;
    use portcullis_domain::user::{Email, NewUser, User};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    fn service(tx: MockTx) -> (SessionService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        (
            SessionService::new(fixed_ports(uow.clone(), None), Lifetimes::SESSIONS),
            uow,
        )
    }

    fn user_id() -> UserId {
        UserId::from_ulid(ulid::Ulid::from_parts(1, 1))
    }

    fn session_id() -> SessionId {
        SessionId::from_ulid(ulid::Ulid::from_parts(3, 3))
    }

    fn user(blocked: bool) -> User {
        let mut new = NewUser::with_email(Email::parse("ada@example.com").unwrap());
        new.blocked = blocked;
        User::register(user_id(), actor().environment_id(), new, now())
    }

    /// A stored session that expires `ttl` seconds after the mocked now.
    fn stored(ttl: i64, revoked: bool) -> Session {
        let mut session = Session::open(
            session_id(),
            actor().environment_id(),
            NewSession {
                user_id: user_id(),
                ip_address: None,
                user_agent: None,
                expires_at: now().plus_seconds(ttl),
            },
            now().plus_seconds(-100),
        );
        if revoked {
            session.revoke(now().plus_seconds(-50));
        }
        session
    }

    fn command() -> CreateSession {
        CreateSession {
            user: user_id(),
            ip_address: Some("2001:DB8::1".into()),
            user_agent: Some("curl/8".into()),
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn create_stores_the_session_with_the_default_expiry_and_its_event() {
        let mut tx = MockTx::new();
        tx.expect_lock_user()
            .returning(|_, _| Ok(Some(user(false))));
        tx.expect_insert_session()
            .withf(|s| {
                s.user_id == user_id()
                    && s.expires_at == now().plus_seconds(30 * 24 * 3600)
                    && s.last_active_at == now()
                    && s.ip_address.as_ref().map(IpAddress::as_str) == Some("2001:db8::1")
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "session.created" && e.data.contains("\"active\""))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);
        let view = service.create(&actor(), command()).await.unwrap();
        assert_eq!(view.session.status(view.now), SessionStatus::Active);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn a_blocked_user_gets_no_session() {
        let mut tx = MockTx::new();
        tx.expect_lock_user().returning(|_, _| Ok(Some(user(true))));
        tx.expect_insert_session().never();
        tx.expect_append_event().never();
        let (service, uow) = service(tx);
        let err = service.create(&actor(), command()).await.unwrap_err();
        assert!(matches!(err, CreateSessionError::UserBlocked), "{err:?}");
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn an_unknown_user_is_refused() {
        let mut tx = MockTx::new();
        tx.expect_lock_user().returning(|_, _| Ok(None));
        tx.expect_insert_session().never();
        let (service, _) = service(tx);
        let err = service.create(&actor(), command()).await.unwrap_err();
        assert!(matches!(err, CreateSessionError::UnknownUser), "{err:?}");
    }

    #[tokio::test]
    async fn bad_attributes_are_reported_together_before_any_store_work() {
        let (service, uow) = service(MockTx::new());
        let err = service
            .create(
                &actor(),
                CreateSession {
                    user: user_id(),
                    ip_address: Some("300.1.1.1".into()),
                    user_agent: Some("x".repeat(513)),
                    expires_at: Some(now().plus_seconds(-1).to_rfc3339()),
                },
            )
            .await
            .unwrap_err();
        let CreateSessionError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        let codes: Vec<_> = violations.iter().map(|v| v.code).collect();
        assert_eq!(
            codes,
            [
                "invalid_ip_address",
                "user_agent_too_long",
                "expires_at_in_past"
            ]
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn expires_at_beyond_the_maximum_is_refused_and_within_it_kept() {
        let (service, _) = service(MockTx::new());
        let mut too_far = command();
        too_far.expires_at = Some(now().plus_seconds(365 * 24 * 3600 + 1).to_rfc3339());
        let err = service.create(&actor(), too_far).await.unwrap_err();
        assert!(
            matches!(&err, CreateSessionError::Invalid(v) if v[0].code == "expires_at_too_far"),
            "{err:?}"
        );

        let mut tx = MockTx::new();
        tx.expect_lock_user()
            .returning(|_, _| Ok(Some(user(false))));
        tx.expect_insert_session()
            .withf(|s| s.expires_at == now().plus_seconds(3600))
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().returning(|_| Ok(()));
        let (service, _) = self::service(tx);
        let mut within = command();
        within.expires_at = Some(now().plus_seconds(3600).to_rfc3339());
        service.create(&actor(), within).await.unwrap();
    }

    #[tokio::test]
    async fn touch_moves_last_activity_of_an_active_session() {
        let mut tx = MockTx::new();
        tx.expect_find_session()
            .returning(|_, _| Ok(Some(stored(10, false))));
        tx.expect_update_session()
            .withf(|s| s.last_active_at == now())
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "session.touched")
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx);
        let view = service.touch(&actor(), session_id()).await.unwrap();
        assert_eq!(view.session.last_active_at, now());
    }

    #[tokio::test]
    async fn touch_refuses_a_session_the_clock_has_expired_and_a_revoked_one() {
        // Expires exactly at the injected clock's now: expired.
        let mut tx = MockTx::new();
        tx.expect_find_session()
            .returning(|_, _| Ok(Some(stored(0, false))));
        tx.expect_update_session().never();
        tx.expect_append_event().never();
        let (service, uow) = service(tx);
        let err = service.touch(&actor(), session_id()).await.unwrap_err();
        assert!(
            matches!(err, TouchSessionError::State(SessionStateError::Expired)),
            "{err:?}"
        );
        assert_eq!(uow.log().rolled_back, 1);

        let mut tx = MockTx::new();
        tx.expect_find_session()
            .returning(|_, _| Ok(Some(stored(10, true))));
        tx.expect_update_session().never();
        let (service, _) = self::service(tx);
        let err = service.touch(&actor(), session_id()).await.unwrap_err();
        assert!(
            matches!(err, TouchSessionError::State(SessionStateError::Revoked)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn revoke_is_idempotent_and_records_one_event() {
        let mut tx = MockTx::new();
        tx.expect_find_session()
            .returning(|_, _| Ok(Some(stored(10, false))));
        tx.expect_update_session()
            .withf(|s| s.revoked_at == Some(now()))
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "session.revoked" && e.data.contains("\"revoked\""))
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx);
        let view = service.revoke(&actor(), session_id()).await.unwrap();
        assert_eq!(view.session.status(view.now), SessionStatus::Revoked);

        let mut tx = MockTx::new();
        tx.expect_find_session()
            .returning(|_, _| Ok(Some(stored(10, true))));
        tx.expect_update_session().never();
        tx.expect_append_event().never();
        let (service, _) = self::service(tx);
        let view = service.revoke(&actor(), session_id()).await.unwrap();
        assert_eq!(view.session.revoked_at, Some(now().plus_seconds(-50)));
    }

    #[tokio::test]
    async fn delete_of_a_missing_session_is_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_session().returning(|_, _| Ok(None));
        tx.expect_delete_session().never();
        let (service, _) = service(tx);
        let err = service.delete(&actor(), session_id()).await.unwrap_err();
        assert!(matches!(err, SessionLookupError::NotFound), "{err:?}");
    }

    #[tokio::test]
    async fn list_evaluates_active_at_the_clocks_now() {
        let mut tx = MockTx::new();
        tx.expect_list_sessions()
            .withf(|_, q| q.now == now() && q.active == Some(true) && q.user == Some(user_id()))
            .times(1)
            .returning(|_, _| Ok(vec![stored(10, false)]));
        let (service, _) = service(tx);
        let (page, at) = service
            .list(
                &actor(),
                SessionFilter {
                    user: Some(user_id()),
                    active: Some(true),
                },
                PageParams::default(),
            )
            .await
            .unwrap();
        assert_eq!(at, now());
        assert_eq!(page.items.len(), 1);
    }
}
