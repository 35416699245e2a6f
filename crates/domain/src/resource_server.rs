//! Resource servers (the APIs that accept access tokens) and their scopes:
//! the value objects that parse what the Management API receives, and the
//! rules of change. The entities themselves live in [`crate::oauth`].

use crate::oauth::{ClientGrant, ResourceServer, Scope, TokenLifetime};
use crate::text::TextRules;
use crate::{EnvironmentId, ResourceServerId, ScopeId, Timestamp};

crate::bounded_text! {
    /// A resource server's display name: trimmed, 1 to 200 characters, no
    /// control characters (inner spaces are allowed: `Orders API`).
    pub struct ResourceServerName = TextRules::name("name", 200);
}

/// A resource server identifier, the `aud` of its tokens: an absolute URI
/// (`https://orders.example.com/api`, `urn:orders`) of at most 2 048
/// characters, with no whitespace and no fragment. It is kept exactly as
/// given (not normalised), since audiences are compared as strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceServerIdentifier(String);

/// Why a text cannot be a [`ResourceServerIdentifier`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResourceServerIdentifierError {
    /// Empty.
    #[error("identifier is empty")]
    Empty,
    /// Over 2 048 characters.
    #[error("identifier is longer than 2048 characters")]
    TooLong,
    /// Holds whitespace or a control character.
    #[error("identifier contains whitespace or a control character")]
    InvalidCharacter,
    /// Not an absolute URI (no scheme), or one with a fragment.
    #[error("identifier must be an absolute URI without a fragment")]
    NotAbsoluteUri,
}

impl ResourceServerIdentifier {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 2_048;

    /// Parses an identifier; it is not trimmed (surrounding whitespace is refused).
    ///
    /// # Errors
    /// [`ResourceServerIdentifierError`].
    pub fn parse(raw: &str) -> Result<Self, ResourceServerIdentifierError> {
        if raw.is_empty() {
            return Err(ResourceServerIdentifierError::Empty);
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ResourceServerIdentifierError::TooLong);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ResourceServerIdentifierError::InvalidCharacter);
        }
        // `Url::parse` refuses relative references: an absolute URI has a scheme.
        let url =
            url::Url::parse(raw).map_err(|_| ResourceServerIdentifierError::NotAbsoluteUri)?;
        if url.fragment().is_some() {
            return Err(ResourceServerIdentifierError::NotAbsoluteUri);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The identifier as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier as an owned string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A scope name, an RFC 6749 §3.3 `scope-token`: 1 to 200 characters out of
/// `%x21 / %x23-5B / %x5D-7E` (printable ASCII but space, `"` and `\`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopeName(String);

/// Why a text cannot be a [`ScopeName`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeNameError {
    /// Empty.
    #[error("name is empty")]
    Empty,
    /// Over 200 characters.
    #[error("name is longer than 200 characters")]
    TooLong,
    /// Holds a character outside RFC 6749's `scope-token` set.
    #[error("name may only hold printable ASCII characters other than space, `\"` and `\\`")]
    InvalidCharacter,
}

impl ScopeName {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a name; it is not trimmed (a space is never part of a scope).
    ///
    /// # Errors
    /// [`ScopeNameError`].
    pub fn parse(raw: &str) -> Result<Self, ScopeNameError> {
        if raw.is_empty() {
            return Err(ScopeNameError::Empty);
        }
        if !raw
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return Err(ScopeNameError::InvalidCharacter);
        }
        // ASCII only from here on: bytes are characters.
        if raw.len() > Self::MAX_CHARS {
            return Err(ScopeNameError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as an owned string.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A change refused because the resource server is the system one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the system resource server and its scopes cannot be changed")]
pub struct SystemResourceServer;

/// A partial update of a resource server; `None` leaves a field as it is.
/// The identifier is fixed after creation, so it is not part of it.
#[derive(Clone, Debug, Default)]
pub struct ResourceServerChanges {
    /// New display name.
    pub name: Option<ResourceServerName>,
    /// New token lifetime.
    pub token_lifetime: Option<TokenLifetime>,
}

impl ResourceServer {
    /// Defines a new (never system) resource server.
    #[must_use]
    pub fn define(
        id: ResourceServerId,
        environment_id: EnvironmentId,
        name: ResourceServerName,
        identifier: ResourceServerIdentifier,
        token_lifetime: TokenLifetime,
        now: Timestamp,
    ) -> Self {
        Self {
            id,
            environment_id,
            name: name.into_string(),
            identifier: identifier.into_string(),
            token_lifetime,
            system: false,
            created_at: now,
            updated_at: now,
        }
    }

    /// Refuses any change to the system resource server (and its scopes).
    ///
    /// # Errors
    /// [`SystemResourceServer`] when it is the system one.
    pub fn ensure_mutable(&self) -> Result<(), SystemResourceServer> {
        if self.system {
            Err(SystemResourceServer)
        } else {
            Ok(())
        }
    }

    /// Applies a partial update.
    ///
    /// # Errors
    /// [`SystemResourceServer`] for the system one, which is left as it is.
    pub fn apply(
        &mut self,
        changes: ResourceServerChanges,
        now: Timestamp,
    ) -> Result<(), SystemResourceServer> {
        self.ensure_mutable()?;
        if let Some(name) = changes.name {
            self.name = name.into_string();
        }
        if let Some(lifetime) = changes.token_lifetime {
            self.token_lifetime = lifetime;
        }
        self.updated_at = now.max(self.created_at);
        Ok(())
    }
}

impl Scope {
    /// Defines a new scope of `resource_server` (whose environment it takes).
    ///
    /// # Errors
    /// [`SystemResourceServer`]: the system resource server's scopes are fixed.
    pub fn define(
        id: ScopeId,
        resource_server: &ResourceServer,
        name: ScopeName,
        description: String,
        now: Timestamp,
    ) -> Result<Self, SystemResourceServer> {
        resource_server.ensure_mutable()?;
        Ok(Self {
            id,
            environment_id: resource_server.environment_id,
            resource_server_id: resource_server.id,
            name: name.into_string(),
            description,
            created_at: now,
        })
    }
}

/// Why an entry of a grant's `allowed_scopes` is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllowedScopeError {
    /// The name is not a scope of the grant's resource server.
    #[error("`{0}` is not a scope of this resource server")]
    Unknown(String),
    /// The name appears earlier in the list.
    #[error("`{0}` is listed more than once")]
    Duplicate(String),
}

impl ClientGrant {
    /// Checks `names`, a grant's requested `allowed_scopes`, against
    /// `defined`, the scopes of its resource server: each must name one of
    /// them, none twice. Every refused entry is returned with its index
    /// (empty when all are fine); an empty list is fine.
    #[must_use]
    pub fn check_allowed_scopes(
        names: &[String],
        defined: &[Scope],
    ) -> Vec<(usize, AllowedScopeError)> {
        let mut refused = Vec::new();
        for (index, name) in names.iter().enumerate() {
            if names[..index].contains(name) {
                refused.push((index, AllowedScopeError::Duplicate(name.clone())));
            } else if !defined.iter().any(|scope| &scope.name == name) {
                refused.push((index, AllowedScopeError::Unknown(name.clone())));
            }
        }
        refused
    }

    /// Whether `allowed` leaves out a scope this grant allows now.
    #[must_use]
    pub fn narrowed_by(&self, allowed: &[String]) -> bool {
        self.allowed_scopes
            .iter()
            .any(|scope| !allowed.contains(scope))
    }

    /// Drops `scope` from the allowed scopes; returns whether it was there.
    pub fn drop_scope(&mut self, scope: &str) -> bool {
        let before = self.allowed_scopes.len();
        self.allowed_scopes.retain(|s| s != scope);
        self.allowed_scopes.len() != before
    }

    /// Renames `from` to `to` in the allowed scopes, in place (a `to`
    /// already allowed is not repeated); returns whether `from` was there.
    pub fn rename_scope(&mut self, from: &str, to: &str) -> bool {
        let Some(at) = self.allowed_scopes.iter().position(|s| s == from) else {
            return false;
        };
        if self.allowed_scopes.iter().any(|s| s == to) {
            self.allowed_scopes.remove(at);
        } else {
            to.clone_into(&mut self.allowed_scopes[at]);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientGrantId;
    use crate::ClientId;
    use crate::text::TextProblem;
    use ulid::Ulid;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn server(system: bool) -> ResourceServer {
        let mut rs = ResourceServer::define(
            ResourceServerId::from_ulid(Ulid::nil()),
            EnvironmentId::from_ulid(Ulid::nil()),
            ResourceServerName::parse(" Orders ").unwrap(),
            ResourceServerIdentifier::parse("https://orders.example.com/api").unwrap(),
            TokenLifetime::DEFAULT,
            at(1_000),
        );
        rs.system = system;
        rs
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            ResourceServerName::parse("  Orders API ").unwrap().as_str(),
            "Orders API"
        );
        assert!(ResourceServerName::parse(&"a".repeat(200)).is_ok());
        assert_eq!(
            ResourceServerName::parse(" ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            ResourceServerName::parse(&"a".repeat(201)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            ResourceServerName::parse("a\u{0}b").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn identifiers_are_absolute_uris_kept_as_given() {
        for good in [
            "https://orders.example.com/api",
            "urn:orders",
            "http://localhost:8080",
        ] {
            assert_eq!(
                ResourceServerIdentifier::parse(good).unwrap().as_str(),
                good
            );
        }
        assert_eq!(
            ResourceServerIdentifier::parse(""),
            Err(ResourceServerIdentifierError::Empty)
        );
        for relative in ["orders", "/api", "//host/api", "https://x/api#frag"] {
            assert_eq!(
                ResourceServerIdentifier::parse(relative),
                Err(ResourceServerIdentifierError::NotAbsoluteUri),
                "{relative}"
            );
        }
        for spaced in [" https://x/api", "https://x/a pi", "https://x/\t"] {
            assert_eq!(
                ResourceServerIdentifier::parse(spaced),
                Err(ResourceServerIdentifierError::InvalidCharacter),
                "{spaced:?}"
            );
        }
        let long = format!("https://x/{}", "a".repeat(2_040));
        assert_eq!(
            ResourceServerIdentifier::parse(&long),
            Err(ResourceServerIdentifierError::TooLong)
        );
    }

    #[test]
    fn scope_names_follow_rfc6749() {
        for good in ["orders:read", "!", "a#[]^_`{|}~", "read:orders/*"] {
            assert_eq!(ScopeName::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(ScopeName::parse(""), Err(ScopeNameError::Empty));
        for bad in ["a b", " a", "a\"b", "a\\b", "é", "a\u{7f}", "a\tb"] {
            assert_eq!(
                ScopeName::parse(bad),
                Err(ScopeNameError::InvalidCharacter),
                "{bad:?}"
            );
        }
        assert!(ScopeName::parse(&"a".repeat(200)).is_ok());
        assert_eq!(
            ScopeName::parse(&"a".repeat(201)),
            Err(ScopeNameError::TooLong)
        );
    }

    #[test]
    fn the_system_resource_server_refuses_changes_and_new_scopes() {
        let mut system = server(true);
        let before = system.clone();
        let changes = ResourceServerChanges {
            name: Some(ResourceServerName::parse("x").unwrap()),
            token_lifetime: None,
        };
        assert_eq!(system.apply(changes, at(2_000)), Err(SystemResourceServer));
        assert_eq!(system, before);
        let scope = Scope::define(
            ScopeId::from_ulid(Ulid::nil()),
            &system,
            ScopeName::parse("x").unwrap(),
            String::new(),
            at(2_000),
        );
        assert_eq!(scope, Err(SystemResourceServer));
    }

    #[test]
    fn changes_apply_and_move_updated_at() {
        let mut rs = server(false);
        rs.apply(
            ResourceServerChanges {
                name: None,
                token_lifetime: Some(TokenLifetime::new(60).unwrap()),
            },
            at(5_000),
        )
        .unwrap();
        assert_eq!(rs.name, "Orders");
        assert_eq!(rs.token_lifetime.seconds(), 60);
        assert_eq!(rs.updated_at, at(5_000));
        rs.apply(ResourceServerChanges::default(), at(10)).unwrap();
        assert_eq!(rs.updated_at, rs.created_at, "never before creation");
        let scope = Scope::define(
            ScopeId::from_ulid(Ulid::nil()),
            &rs,
            ScopeName::parse("orders:read").unwrap(),
            "Read".into(),
            at(6_000),
        )
        .unwrap();
        assert_eq!(scope.resource_server_id, rs.id);
        assert_eq!(scope.environment_id, rs.environment_id);
    }

    #[test]
    fn grants_drop_and_rename_scopes() {
        let mut grant = ClientGrant {
            id: ClientGrantId::from_ulid(Ulid::nil()),
            environment_id: EnvironmentId::from_ulid(Ulid::nil()),
            client_id: ClientId::from_ulid(Ulid::nil()),
            resource_server_id: ResourceServerId::from_ulid(Ulid::nil()),
            allowed_scopes: vec!["a".into(), "b".into(), "c".into()],
            created_at: at(0),
        };
        assert!(grant.rename_scope("b", "x"));
        assert_eq!(grant.allowed_scopes, ["a", "x", "c"]);
        assert!(
            grant.rename_scope("x", "c"),
            "no duplicate when the new name is allowed"
        );
        assert_eq!(grant.allowed_scopes, ["a", "c"]);
        assert!(!grant.rename_scope("zz", "y"));
        assert!(grant.drop_scope("a"));
        assert!(!grant.drop_scope("a"));
        assert_eq!(grant.allowed_scopes, ["c"]);
    }

    fn defined(names: &[&str]) -> Vec<Scope> {
        names
            .iter()
            .enumerate()
            .map(|(n, name)| Scope {
                id: ScopeId::from_ulid(Ulid::from_parts(5, n as u128)),
                environment_id: EnvironmentId::from_ulid(Ulid::nil()),
                resource_server_id: ResourceServerId::from_ulid(Ulid::nil()),
                name: (*name).to_owned(),
                description: String::new(),
                created_at: Timestamp::from_unix_micros(0).unwrap(),
            })
            .collect()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn allowed_scopes_must_be_defined_and_distinct() {
        let defined = defined(&["orders:read", "orders:write"]);
        assert!(ClientGrant::check_allowed_scopes(&names(&["orders:write"]), &defined).is_empty());
        assert!(ClientGrant::check_allowed_scopes(&[], &defined).is_empty());
        assert_eq!(
            ClientGrant::check_allowed_scopes(
                &names(&["orders:read", "nope", "orders:read", "ORDERS:WRITE"]),
                &defined
            ),
            vec![
                (1, AllowedScopeError::Unknown("nope".into())),
                (2, AllowedScopeError::Duplicate("orders:read".into())),
                (3, AllowedScopeError::Unknown("ORDERS:WRITE".into())),
            ]
        );
        assert_eq!(
            ClientGrant::check_allowed_scopes(&names(&["orders:read"]), &[]),
            vec![(0, AllowedScopeError::Unknown("orders:read".into()))]
        );
    }

    #[test]
    fn a_grant_is_narrowed_only_when_a_scope_goes() {
        let grant = ClientGrant {
            id: ClientGrantId::from_ulid(Ulid::nil()),
            environment_id: EnvironmentId::from_ulid(Ulid::nil()),
            client_id: ClientId::from_ulid(Ulid::nil()),
            resource_server_id: ResourceServerId::from_ulid(Ulid::nil()),
            allowed_scopes: names(&["a", "b"]),
            created_at: Timestamp::from_unix_micros(0).unwrap(),
        };
        assert!(!grant.narrowed_by(&names(&["b", "a", "c"])));
        assert!(grant.narrowed_by(&names(&["a"])));
        assert!(grant.narrowed_by(&[]));
    }
}
