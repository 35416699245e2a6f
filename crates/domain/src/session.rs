//! Sessions of users: where a user is signed in, until when, and whether the
//! session was revoked. The status is derived from the clock the caller
//! passes in, never stored.

use std::net::IpAddr;

use crate::{EnvironmentId, SessionId, Timestamp, UserId};

/// An IP address (v4 or v6), kept in its canonical text form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IpAddress(String);

/// The text given is not an IP address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IPv4 or IPv6 address")]
pub struct IpAddressError(pub String);

impl IpAddress {
    /// Parses an IPv4 or IPv6 address (surrounding whitespace is refused).
    ///
    /// # Errors
    /// [`IpAddressError`] when `raw` is not an address.
    pub fn parse(raw: &str) -> Result<Self, IpAddressError> {
        raw.parse::<IpAddr>()
            .map(|ip| Self(ip.to_string()))
            .map_err(|_| IpAddressError(raw.to_owned()))
    }

    /// The canonical text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user agent string: at most 512 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UserAgent(String);

/// Why a text cannot be a [`UserAgent`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserAgentError {
    /// Over 512 characters.
    #[error("user agent is longer than 512 characters")]
    TooLong,
    /// Holds a control character.
    #[error("user agent contains a control character")]
    ControlCharacter,
}

impl UserAgent {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 512;

    /// Parses a user agent, kept as given.
    ///
    /// # Errors
    /// [`UserAgentError`] for an over-long value or one with control characters.
    pub fn parse(raw: &str) -> Result<Self, UserAgentError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(UserAgentError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(UserAgentError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The derived state of a session at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionStatus {
    /// Neither revoked nor expired.
    Active,
    /// Past its `expires_at` (and not revoked).
    Expired,
    /// Revoked (whether or not it has expired since).
    Revoked,
}

impl SessionStatus {
    /// The name the API shows.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// Why a session cannot be touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionStateError {
    /// The session was revoked.
    #[error("the session is revoked")]
    Revoked,
    /// The session has expired.
    #[error("the session has expired")]
    Expired,
}

/// A session of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Identity.
    pub id: SessionId,
    /// The environment of the session and its user.
    pub environment_id: EnvironmentId,
    /// The user signed in.
    pub user_id: UserId,
    /// Where from.
    pub ip_address: Option<IpAddress>,
    /// With what.
    pub user_agent: Option<UserAgent>,
    /// Last activity (the creation time until the first touch).
    pub last_active_at: Timestamp,
    /// When the session ends by itself.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// What a new session is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    /// The user signed in.
    pub user_id: UserId,
    /// Where from.
    pub ip_address: Option<IpAddress>,
    /// With what.
    pub user_agent: Option<UserAgent>,
    /// When it ends.
    pub expires_at: Timestamp,
}

impl Session {
    /// Opens a session at `now`; its last activity is `now`.
    #[must_use]
    pub fn open(
        id: SessionId,
        environment_id: EnvironmentId,
        new: NewSession,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            user_id: new.user_id,
            ip_address: new.ip_address,
            user_agent: new.user_agent,
            last_active_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            created_at: now,
        }
    }

    /// The status at `now`: revoked wins over expired; a session expires
    /// at its `expires_at` (an instant equal to it is expired).
    #[must_use]
    pub fn status(&self, now: Timestamp) -> SessionStatus {
        if self.revoked_at.is_some() {
            SessionStatus::Revoked
        } else if self.expires_at <= now {
            SessionStatus::Expired
        } else {
            SessionStatus::Active
        }
    }

    /// Records activity at `now`.
    ///
    /// # Errors
    /// [`SessionStateError`] when the session is revoked or expired at `now`.
    pub fn touch(&mut self, now: Timestamp) -> Result<(), SessionStateError> {
        match self.status(now) {
            SessionStatus::Revoked => Err(SessionStateError::Revoked),
            SessionStatus::Expired => Err(SessionStateError::Expired),
            SessionStatus::Active => {
                self.last_active_at = now;
                Ok(())
            }
        }
    }

    /// Revokes the session at `now`; returns whether this call revoked it
    /// (a revoked session stays as it was). An expired session can be revoked.
    pub fn revoke(&mut self, now: Timestamp) -> bool {
        if self.revoked_at.is_some() {
            return false;
        }
        self.revoked_at = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_micros(seconds * 1_000_000).unwrap()
    }

    fn session() -> Session {
        Session::open(
            SessionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            EnvironmentId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            NewSession {
                user_id: UserId::from_ulid(ulid::Ulid::from_parts(3, 3)),
                ip_address: None,
                user_agent: None,
                expires_at: at(100),
            },
            at(10),
        )
    }

    #[test]
    fn ip_addresses_parse_both_families_canonically() {
        assert_eq!(IpAddress::parse("192.0.2.1").unwrap().as_str(), "192.0.2.1");
        assert_eq!(
            IpAddress::parse("2001:DB8:0:0:0:0:0:1").unwrap().as_str(),
            "2001:db8::1"
        );
        assert!(IpAddress::parse("256.0.0.1").is_err());
        assert!(IpAddress::parse(" 192.0.2.1").is_err());
        assert!(IpAddress::parse("example.com").is_err());
    }

    #[test]
    fn user_agents_are_bounded_and_free_of_control_characters() {
        assert!(UserAgent::parse(&"a".repeat(512)).is_ok());
        assert_eq!(
            UserAgent::parse(&"a".repeat(513)),
            Err(UserAgentError::TooLong)
        );
        assert_eq!(
            UserAgent::parse("curl\n"),
            Err(UserAgentError::ControlCharacter)
        );
    }

    #[test]
    fn status_follows_the_clock_and_revocation() {
        let mut s = session();
        assert_eq!(s.last_active_at, at(10));
        assert_eq!(s.status(at(99)), SessionStatus::Active);
        assert_eq!(s.status(at(100)), SessionStatus::Expired);
        assert!(s.revoke(at(50)));
        assert_eq!(s.status(at(60)), SessionStatus::Revoked);
        assert_eq!(s.status(at(200)), SessionStatus::Revoked);
    }

    #[test]
    fn touch_moves_last_activity_only_while_active() {
        let mut s = session();
        s.touch(at(20)).unwrap();
        assert_eq!(s.last_active_at, at(20));
        assert_eq!(s.touch(at(100)), Err(SessionStateError::Expired));
        assert_eq!(s.last_active_at, at(20));
        s.revoke(at(30));
        assert_eq!(s.touch(at(40)), Err(SessionStateError::Revoked));
    }

    #[test]
    fn revoking_twice_changes_nothing_the_second_time() {
        let mut s = session();
        assert!(s.revoke(at(30)));
        assert!(!s.revoke(at(40)));
        assert_eq!(s.revoked_at, Some(at(30)));
    }
}
