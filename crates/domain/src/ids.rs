//! Typed identifiers: a ULID per entity kind, so that a user id can never be
//! passed where a key id is expected.

use std::fmt;
use std::str::FromStr;

use ulid::Ulid;

/// The text given was not a ULID (26 characters of Crockford base32).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid identifier")]
pub struct IdError(pub String);

macro_rules! typed_id {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// Wraps a ULID drawn by the caller's id source.
            #[must_use]
            pub const fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// Parses the canonical 26-character text form.
            ///
            /// # Errors
            /// [`IdError`] when `raw` is not a ULID.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                if raw.len() != 26 {
                    return Err(IdError(raw.to_owned()));
                }
                Ulid::from_str(raw).map(Self).map_err(|_| IdError(raw.to_owned()))
            }

            /// The underlying ULID.
            #[must_use]
            pub const fn as_ulid(self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    )*};
}

typed_id! {
    /// Identifies an environment (a tenant).
    EnvironmentId,
    /// Identifies a user.
    UserId,
    /// Identifies a client record (not its public OAuth `client_id`).
    ClientId,
    /// Identifies a resource server (an API).
    ResourceServerId,
    /// Identifies a scope of a resource server.
    ScopeId,
    /// Identifies a client grant.
    ClientGrantId,
    /// Identifies a signing key record (not its `kid`).
    SigningKeyId,
    /// Identifies an audit event.
    EventId,
    /// Identifies a role held by a user (a user-role join).
    UserRoleId,
    /// Identifies an opaque access token record (its `jti`).
    AccessTokenId,
    /// Identifies a permission.
    PermissionId,
    /// Identifies a role.
    RoleId,
    /// Identifies a role-permission join.
    RolePermissionId,
    /// Identifies an identity provider connection.
    ConnectionId,
    /// Identifies a user's session.
    SessionId,
    /// Identifies an organization.
    OrganizationId,
    /// Identifies a membership of a user in an organization.
    MembershipId,
    /// Identifies an invitation into an organization.
    InvitationId,
    /// Identifies an action (operator-written JavaScript).
    ActionId,
    /// Identifies one recorded run of an action.
    ActionExecutionId,
    /// Identifies a webhook.
    WebhookId,
    /// Identifies one delivery attempt of an event to a webhook.
    DeliveryAttemptId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_the_text_form() {
        let id = UserId::from_ulid(Ulid::from_parts(1_700_000_000_000, 42));
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
    }

    #[test]
    fn parse_rejects_wrong_length_and_alphabet() {
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("01HQ").is_err());
        assert!(
            UserId::parse("01HQZZZZZZZZZZZZZZZZZZZZZU").is_err(),
            "U is not Crockford"
        );
        assert!(UserId::parse("01HQZZZZZZZZZZZZZZZZZZZZZZZ").is_err());
    }
}
