//! Opaque access tokens: what the server remembers of a token it handed out
//! as a random string (clients whose `token_format` is `opaque`). The token
//! itself is never stored, only its digest; introspection and the
//! Management API find the record by the digest of the presented token.

use crate::oauth::SecretDigest;
use crate::{AccessTokenId, ClientId, EnvironmentId, ResourceServerId, Timestamp};

/// The stored record of an opaque access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpaqueToken {
    /// Identity (also the token's `jti` in introspection).
    pub id: AccessTokenId,
    /// The environment that issued it.
    pub environment_id: EnvironmentId,
    /// The client record it was issued to (the token dies with it).
    pub client: ClientId,
    /// The client's public `client_id` (`sub` and `client_id` in introspection).
    pub client_id: String,
    /// The resource server it is for (the token dies with it).
    pub resource_server: ResourceServerId,
    /// That resource server's identifier (`aud`).
    pub audience: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Digest of the token string.
    pub digest: SecretDigest,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Claims a `pre_token` action added (a JSON object, as text), shown by
    /// introspection beside the server's own; `None` when there are none.
    pub custom_claims: Option<String>,
}

impl OpaqueToken {
    /// Whether the token is usable at `now` with `leeway_seconds` of clock
    /// tolerance: not revoked (revocation has no leeway) and not expired.
    #[must_use]
    pub fn is_active(&self, now: Timestamp, leeway_seconds: i64) -> bool {
        self.revoked_at.is_none() && now < self.expires_at.plus_seconds(leeway_seconds)
    }

    /// Seconds from issue to expiry.
    #[must_use]
    pub fn lifetime_seconds(&self) -> i64 {
        self.expires_at.unix_seconds() - self.issued_at.unix_seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn token(revoked_at: Option<Timestamp>) -> OpaqueToken {
        let at = |s: i64| Timestamp::from_unix_micros(s * 1_000_000).unwrap();
        OpaqueToken {
            id: AccessTokenId::from_ulid(Ulid::from_parts(1, 1)),
            environment_id: EnvironmentId::from_ulid(Ulid::from_parts(1, 2)),
            client: ClientId::from_ulid(Ulid::from_parts(1, 3)),
            client_id: "machine".into(),
            resource_server: ResourceServerId::from_ulid(Ulid::from_parts(1, 4)),
            audience: "https://api.example".into(),
            scopes: vec!["read:reports".into()],
            digest: SecretDigest::new("digest".into()),
            issued_at: at(1_000),
            expires_at: at(4_600),
            revoked_at,
            custom_claims: None,
        }
    }

    #[test]
    fn a_token_is_active_until_it_expires_or_is_revoked() {
        let at = |s: i64| Timestamp::from_unix_micros(s * 1_000_000).unwrap();
        let live = token(None);
        assert_eq!(live.lifetime_seconds(), 3_600);
        assert!(live.is_active(at(1_000), 0));
        assert!(live.is_active(at(4_599), 0));
        assert!(!live.is_active(at(4_600), 0));
        assert!(live.is_active(at(4_629), 30), "leeway");
        assert!(!live.is_active(at(4_630), 30));
        let revoked = token(Some(at(2_000)));
        assert!(
            !revoked.is_active(at(1_500), 30),
            "revocation has no leeway"
        );
    }
}
