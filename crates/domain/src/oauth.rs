//! OAuth resources: clients, resource servers (APIs) with their scopes, and
//! the grants that let a client get tokens for a resource server.

use crate::{ClientGrantId, ClientId, EnvironmentId, ResourceServerId, ScopeId, Timestamp};

/// The collections of the Management API that carry `read`, `write` and `delete` scopes.
pub const MANAGEMENT_COLLECTIONS: [&str; 12] = [
    "users",
    "sessions",
    "roles",
    "permissions",
    "clients",
    "resource_servers",
    "signing_keys",
    "organizations",
    "connections",
    "webhooks",
    "actions",
    "events",
];

/// The verbs of Management API scopes.
pub const MANAGEMENT_VERBS: [&str; 3] = ["read", "write", "delete"];

/// Every Management API scope, `collection:verb`, in catalogue order.
#[must_use]
pub fn management_api_scopes() -> Vec<String> {
    MANAGEMENT_COLLECTIONS
        .iter()
        .flat_map(|collection| {
            MANAGEMENT_VERBS
                .iter()
                .map(move |verb| format!("{collection}:{verb}"))
        })
        .collect()
}

/// The name of the system resource server of every environment.
pub const MANAGEMENT_API_NAME: &str = "Management API";

/// Whether a client can keep a secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientType {
    /// Holds a secret (servers, machines).
    Confidential,
    /// Cannot keep a secret (browsers, mobile apps).
    Public,
}

impl ClientType {
    /// Wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confidential => "confidential",
            Self::Public => "public",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "confidential" => Some(Self::Confidential),
            "public" => Some(Self::Public),
            _ => None,
        }
    }
}

/// OAuth grant types a client may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
}

impl GrantType {
    /// Wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorization_code" => Some(Self::AuthorizationCode),
            "client_credentials" => Some(Self::ClientCredentials),
            "refresh_token" => Some(Self::RefreshToken),
            _ => None,
        }
    }
}

/// How access tokens for a client are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// RFC 9068 JWT.
    Jwt,
    /// A random reference, resolved by introspection.
    Opaque,
}

impl TokenFormat {
    /// Wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::Opaque => "opaque",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "jwt" => Some(Self::Jwt),
            "opaque" => Some(Self::Opaque),
            _ => None,
        }
    }
}

/// The SHA-256 digest (hex) of a generated secret. Generated secrets carry
/// 256 random bits, so a plain digest is safe against brute force.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretDigest(String);

impl std::fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDigest(<redacted>)")
    }
}

impl SecretDigest {
    /// Wraps a digest computed by the crypto adapter or read from the store.
    #[must_use]
    pub fn new(hex: String) -> Self {
        Self(hex)
    }

    /// The digest as lower-case hex.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An OAuth client (an application or a machine).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    /// Record identity.
    pub id: ClientId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Public OAuth identifier, unique per environment.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Grant types it may use.
    pub grant_types: Vec<GrantType>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Encoding of its access tokens.
    pub token_format: TokenFormat,
    /// Whether the client belongs to the operator.
    pub first_party: bool,
    /// Digest of its secret (confidential clients).
    pub secret_digest: Option<SecretDigest>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

impl Client {
    /// Whether the client may use `grant` at the token endpoint; a public
    /// client never gets client credentials.
    #[must_use]
    pub fn may_use(&self, grant: GrantType) -> bool {
        let allowed = self.grant_types.contains(&grant);
        match grant {
            GrantType::ClientCredentials => allowed && self.client_type == ClientType::Confidential,
            GrantType::AuthorizationCode | GrantType::RefreshToken => allowed,
        }
    }
}

/// Lifetime of access tokens for a resource server, 60 to 86 400 seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetime(i64);

/// A lifetime outside 60..=86 400 seconds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("token_lifetime must be between 60 and 86400 seconds")]
pub struct TokenLifetimeError;

impl TokenLifetime {
    /// The lifetime when none is given: one hour.
    pub const DEFAULT: Self = Self(3_600);

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`TokenLifetimeError`] outside 60..=86 400.
    pub fn new(seconds: i64) -> Result<Self, TokenLifetimeError> {
        if (60..=86_400).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(TokenLifetimeError)
        }
    }

    /// Seconds.
    #[must_use]
    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// An API that accepts access tokens (the token audience).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceServer {
    /// Identity.
    pub id: ResourceServerId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Display name.
    pub name: String,
    /// The audience: an absolute URI, unique per environment, fixed after creation.
    pub identifier: String,
    /// Lifetime of its access tokens.
    pub token_lifetime: TokenLifetime,
    /// The Management API of its environment: immutable.
    pub system: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A scope a resource server defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// Identity.
    pub id: ScopeId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// Its resource server.
    pub resource_server_id: ResourceServerId,
    /// Name, unique within the resource server (`users:read`).
    pub name: String,
    /// What it allows.
    pub description: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Which scopes of a resource server a client may get tokens for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientGrant {
    /// Identity.
    pub id: ClientGrantId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// The client.
    pub client_id: ClientId,
    /// The resource server.
    pub resource_server_id: ResourceServerId,
    /// Scope names of that resource server.
    pub allowed_scopes: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Why a token request's scopes cannot be granted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("scope `{0}` is not granted to this client")]
pub struct ScopeNotGranted(pub String);

impl ClientGrant {
    /// The scopes a token may carry: all granted ones when none are asked
    /// for, else exactly those asked for, each of which must be granted.
    /// Duplicates are dropped; order follows the request.
    ///
    /// # Errors
    /// [`ScopeNotGranted`] naming the first scope outside the grant.
    pub fn narrow(&self, requested: Option<&str>) -> Result<Vec<String>, ScopeNotGranted> {
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(self.allowed_scopes.clone());
        };
        let mut scopes: Vec<String> = Vec::new();
        for scope in requested.split(' ').filter(|s| !s.is_empty()) {
            if !self.allowed_scopes.iter().any(|allowed| allowed == scope) {
                return Err(ScopeNotGranted(scope.to_owned()));
            }
            if !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        }
        Ok(scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    fn grant(scopes: &[&str]) -> ClientGrant {
        ClientGrant {
            id: ClientGrantId::from_ulid(Ulid::nil()),
            environment_id: EnvironmentId::from_ulid(Ulid::nil()),
            client_id: ClientId::from_ulid(Ulid::nil()),
            resource_server_id: ResourceServerId::from_ulid(Ulid::nil()),
            allowed_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: Timestamp::from_unix_micros(0).unwrap(),
        }
    }

    #[test]
    fn management_scopes_cover_every_collection_and_verb() {
        let scopes = management_api_scopes();
        assert_eq!(scopes.len(), 36);
        assert!(scopes.contains(&"users:read".to_owned()));
        assert!(scopes.contains(&"signing_keys:write".to_owned()));
        assert!(scopes.contains(&"events:delete".to_owned()));
    }

    #[test]
    fn no_requested_scope_means_every_granted_scope() {
        let g = grant(&["a", "b"]);
        assert_eq!(g.narrow(None).unwrap(), ["a", "b"]);
        assert_eq!(g.narrow(Some("  ")).unwrap(), ["a", "b"]);
    }

    #[test]
    fn requested_scopes_must_all_be_granted() {
        let g = grant(&["a", "b", "c"]);
        assert_eq!(g.narrow(Some("c a c")).unwrap(), ["c", "a"]);
        assert_eq!(g.narrow(Some("a z")), Err(ScopeNotGranted("z".into())));
    }

    #[test]
    fn public_clients_never_use_client_credentials() {
        let mut client = Client {
            id: ClientId::from_ulid(Ulid::nil()),
            environment_id: EnvironmentId::from_ulid(Ulid::nil()),
            client_id: "c".into(),
            name: "n".into(),
            client_type: ClientType::Public,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            token_format: TokenFormat::Jwt,
            first_party: false,
            secret_digest: None,
            created_at: Timestamp::from_unix_micros(0).unwrap(),
            updated_at: Timestamp::from_unix_micros(0).unwrap(),
        };
        assert!(!client.may_use(GrantType::ClientCredentials));
        client.client_type = ClientType::Confidential;
        assert!(client.may_use(GrantType::ClientCredentials));
        assert!(!client.may_use(GrantType::RefreshToken));
    }

    #[test]
    fn token_lifetime_is_bounded() {
        assert!(TokenLifetime::new(59).is_err());
        assert!(TokenLifetime::new(86_401).is_err());
        assert_eq!(TokenLifetime::new(60).unwrap().seconds(), 60);
    }
}
