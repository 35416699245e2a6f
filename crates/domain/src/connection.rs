//! Connections: the identity providers (social or enterprise SSO) an
//! environment lets its users sign in with. A connection holds the
//! provider's OAuth `client_id` and, encrypted with the master key, its
//! client secret; the domain never sees that secret in clear.

use url::Url;

use crate::text::TextRules;
use crate::{ConnectionId, EnvironmentId, Timestamp};

/// The identity provider protocol a connection speaks. Fixed once created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Google.
    Google,
    /// Microsoft (Entra ID / personal accounts).
    Microsoft,
    /// GitHub.
    Github,
    /// Facebook.
    Facebook,
    /// Discord.
    Discord,
    /// GitLab.
    Gitlab,
    /// Slack.
    Slack,
    /// `LinkedIn`.
    Linkedin,
    /// Bitbucket.
    Bitbucket,
    /// An Auth0 tenant (needs a discovery URL).
    Auth0,
    /// Any `OpenID` Connect provider (needs a discovery URL).
    Oidc,
}

/// The text is not one of the supported strategies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "strategy must be one of google, microsoft, github, facebook, discord, gitlab, slack, linkedin, bitbucket, auth0, oidc"
)]
pub struct StrategyError;

impl Strategy {
    /// Every strategy, in the spec's order.
    pub const ALL: [Self; 11] = [
        Self::Google,
        Self::Microsoft,
        Self::Github,
        Self::Facebook,
        Self::Discord,
        Self::Gitlab,
        Self::Slack,
        Self::Linkedin,
        Self::Bitbucket,
        Self::Auth0,
        Self::Oidc,
    ];

    /// Parses the wire name (exact, lower case).
    ///
    /// # Errors
    /// [`StrategyError`] for any other text.
    pub fn parse(raw: &str) -> Result<Self, StrategyError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or(StrategyError)
    }

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Github => "github",
            Self::Facebook => "facebook",
            Self::Discord => "discord",
            Self::Gitlab => "gitlab",
            Self::Slack => "slack",
            Self::Linkedin => "linkedin",
            Self::Bitbucket => "bitbucket",
            Self::Auth0 => "auth0",
            Self::Oidc => "oidc",
        }
    }

    /// Whether a connection of this strategy needs a `discovery_url`.
    #[must_use]
    pub const fn requires_discovery_url(self) -> bool {
        matches!(self, Self::Auth0 | Self::Oidc)
    }
}

crate::bounded_text! {
    /// A display name: at most 100 characters, no control characters, kept as
    /// trimmed; empty is allowed.
    #[derive(Default)]
    pub struct DisplayName = TextRules::name("display_name", 100).or_empty();
}

crate::bounded_text! {
    /// The provider's public OAuth client id: trimmed, 1 to 255 characters,
    /// no whitespace or control characters.
    pub struct ProviderClientId = TextRules::token("client_id", 255);
}

/// The scopes requested from the provider, as one space-separated string
/// (`openid email profile`). Each token is an RFC 6749 §3.3 scope token;
/// runs of spaces collapse to one and repeats are dropped (first kept).
/// Empty means the provider's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProviderScopes(String);

/// Why a text cannot be [`ProviderScopes`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderScopesError {
    /// Over 1000 characters.
    #[error("scopes is longer than 1000 characters")]
    TooLong,
    /// More than 50 tokens.
    #[error("scopes holds more than 50 scope tokens")]
    TooMany,
    /// A token holds a character RFC 6749 forbids (`"`, `\`, controls, non-ASCII).
    #[error("scope `{0}` contains a character not allowed in a scope token")]
    InvalidToken(String),
}

impl ProviderScopes {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 1000;
    /// Largest number of tokens.
    pub const MAX_TOKENS: usize = 50;

    /// Parses space-separated scope tokens.
    ///
    /// # Errors
    /// [`ProviderScopesError`].
    pub fn parse(raw: &str) -> Result<Self, ProviderScopesError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(ProviderScopesError::TooLong);
        }
        let mut tokens: Vec<&str> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            // %x21 / %x23-5B / %x5D-7E
            let valid = token
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err(ProviderScopesError::InvalidToken(token.to_owned()));
            }
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
        if tokens.len() > Self::MAX_TOKENS {
            return Err(ProviderScopesError::TooMany);
        }
        Ok(Self(tokens.join(" ")))
    }

    /// The normalized scopes string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An `OpenID` Connect discovery URL: absolute, `https`, with a host, no
/// fragment, at most 2048 characters; kept as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryUrl(String);

/// Why a text cannot be a [`DiscoveryUrl`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryUrlError {
    /// Not an absolute URL with a host.
    #[error("discovery_url must be an absolute URL with a host")]
    NotAbsolute,
    /// Another scheme than `https`.
    #[error("discovery_url must use https")]
    NotHttps,
    /// Holds a fragment.
    #[error("discovery_url must not contain a fragment")]
    Fragment,
    /// Over 2048 characters.
    #[error("discovery_url is longer than 2048 characters")]
    TooLong,
}

impl DiscoveryUrl {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 2048;

    /// Parses a discovery URL.
    ///
    /// # Errors
    /// [`DiscoveryUrlError`].
    pub fn parse(raw: &str) -> Result<Self, DiscoveryUrlError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(DiscoveryUrlError::TooLong);
        }
        if raw.trim() != raw || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(DiscoveryUrlError::NotAbsolute);
        }
        let url = Url::parse(raw).map_err(|_| DiscoveryUrlError::NotAbsolute)?;
        if url.scheme() != "https" {
            return Err(DiscoveryUrlError::NotHttps);
        }
        if url.host().is_none() || !raw.contains("://") {
            return Err(DiscoveryUrlError::NotAbsolute);
        }
        if raw.contains('#') {
            return Err(DiscoveryUrlError::Fragment);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client secret encrypted with the master key; the domain never sees it
/// in clear and its `Debug` output shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedClientSecret(Vec<u8>);

impl std::fmt::Debug for EncryptedClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EncryptedClientSecret({} bytes)", self.0.len())
    }
}

impl EncryptedClientSecret {
    /// Wraps ciphertext produced by the cipher or read from the store.
    #[must_use]
    pub fn new(ciphertext: Vec<u8>) -> Self {
        Self(ciphertext)
    }

    /// The ciphertext.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A rule a connection's state breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRuleError {
    /// `auth0` and `oidc` connections need a discovery URL.
    #[error("discovery_url is required for the {} strategy", .0.as_str())]
    DiscoveryUrlRequired(Strategy),
}

/// A stored connection whose state contradicts itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionStateError {
    /// `updated_at` precedes `created_at`.
    #[error("connection {0} was updated before it was created")]
    Timestamps(ConnectionId),
    /// A rule is broken.
    #[error("connection {0}: {1}")]
    Rule(ConnectionId, ConnectionRuleError),
}

/// An identity provider connection of an environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Identity.
    pub id: ConnectionId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// The provider protocol; fixed after creation.
    pub strategy: Strategy,
    /// Name shown on sign-in pages.
    pub display_name: DisplayName,
    /// The provider's OAuth client id.
    pub client_id: ProviderClientId,
    /// The provider's client secret, encrypted; `None` when not set.
    pub client_secret: Option<EncryptedClientSecret>,
    /// Scopes requested from the provider.
    pub scopes: ProviderScopes,
    /// `OpenID` Connect discovery URL.
    pub discovery_url: Option<DiscoveryUrl>,
    /// Whether users of the connection's domains must sign in through it.
    pub enforce_sso: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last update time.
    pub updated_at: Timestamp,
}

/// A new connection, its values already parsed.
#[derive(Clone, Debug)]
pub struct NewConnection {
    /// The provider protocol.
    pub strategy: Strategy,
    /// Display name.
    pub display_name: DisplayName,
    /// The provider's client id.
    pub client_id: ProviderClientId,
    /// The encrypted client secret, if any.
    pub client_secret: Option<EncryptedClientSecret>,
    /// Scopes.
    pub scopes: ProviderScopes,
    /// Discovery URL.
    pub discovery_url: Option<DiscoveryUrl>,
    /// SSO enforcement.
    pub enforce_sso: bool,
}

/// A partial update; `None` leaves a field as it is. The strategy has no
/// field: it cannot change.
#[derive(Clone, Debug, Default)]
pub struct ConnectionChanges {
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New client id.
    pub client_id: Option<ProviderClientId>,
    /// New encrypted client secret.
    pub client_secret: Option<EncryptedClientSecret>,
    /// New scopes.
    pub scopes: Option<ProviderScopes>,
    /// New discovery URL; `Some(None)` removes it.
    pub discovery_url: Option<Option<DiscoveryUrl>>,
    /// New SSO enforcement.
    pub enforce_sso: Option<bool>,
}

fn check_discovery(
    strategy: Strategy,
    discovery_url: Option<&DiscoveryUrl>,
) -> Result<(), ConnectionRuleError> {
    if strategy.requires_discovery_url() && discovery_url.is_none() {
        return Err(ConnectionRuleError::DiscoveryUrlRequired(strategy));
    }
    Ok(())
}

impl Connection {
    /// Creates a connection. `id` and `now` come from the id source and the clock.
    ///
    /// # Errors
    /// [`ConnectionRuleError::DiscoveryUrlRequired`] for an `auth0` or
    /// `oidc` connection without a discovery URL.
    pub fn create(
        id: ConnectionId,
        environment_id: EnvironmentId,
        new: NewConnection,
        now: Timestamp,
    ) -> Result<Self, ConnectionRuleError> {
        check_discovery(new.strategy, new.discovery_url.as_ref())?;
        Ok(Self {
            id,
            environment_id,
            strategy: new.strategy,
            display_name: new.display_name,
            client_id: new.client_id,
            client_secret: new.client_secret,
            scopes: new.scopes,
            discovery_url: new.discovery_url,
            enforce_sso: new.enforce_sso,
            created_at: now,
            updated_at: now,
        })
    }

    /// Rebuilds a stored connection, re-checking its invariants.
    ///
    /// # Errors
    /// [`ConnectionStateError`].
    pub fn from_parts(parts: Self) -> Result<Self, ConnectionStateError> {
        if parts.updated_at < parts.created_at {
            return Err(ConnectionStateError::Timestamps(parts.id));
        }
        check_discovery(parts.strategy, parts.discovery_url.as_ref())
            .map_err(|e| ConnectionStateError::Rule(parts.id, e))?;
        Ok(parts)
    }

    /// Whether a client secret is stored.
    #[must_use]
    pub const fn client_secret_set(&self) -> bool {
        self.client_secret.is_some()
    }

    /// Applies a partial update; nothing changes when the result would break a rule.
    ///
    /// # Errors
    /// [`ConnectionRuleError::DiscoveryUrlRequired`] when the update removes
    /// the discovery URL of an `auth0` or `oidc` connection.
    pub fn apply(
        &mut self,
        changes: ConnectionChanges,
        now: Timestamp,
    ) -> Result<(), ConnectionRuleError> {
        if let Some(discovery_url) = &changes.discovery_url {
            check_discovery(self.strategy, discovery_url.as_ref())?;
        }
        if let Some(display_name) = changes.display_name {
            self.display_name = display_name;
        }
        if let Some(client_id) = changes.client_id {
            self.client_id = client_id;
        }
        if let Some(secret) = changes.client_secret {
            self.client_secret = Some(secret);
        }
        if let Some(scopes) = changes.scopes {
            self.scopes = scopes;
        }
        if let Some(discovery_url) = changes.discovery_url {
            self.discovery_url = discovery_url;
        }
        if let Some(enforce_sso) = changes.enforce_sso {
            self.enforce_sso = enforce_sso;
        }
        self.updated_at = now.max(self.created_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn new(strategy: Strategy, discovery: Option<&str>) -> NewConnection {
        NewConnection {
            strategy,
            display_name: DisplayName::parse("Corp").unwrap(),
            client_id: ProviderClientId::parse("abc").unwrap(),
            client_secret: Some(EncryptedClientSecret::new(vec![1, 2, 3])),
            scopes: ProviderScopes::parse("openid email profile").unwrap(),
            discovery_url: discovery.map(|d| DiscoveryUrl::parse(d).unwrap()),
            enforce_sso: false,
        }
    }

    fn create(
        strategy: Strategy,
        discovery: Option<&str>,
    ) -> Result<Connection, ConnectionRuleError> {
        Connection::create(
            ConnectionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            EnvironmentId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            new(strategy, discovery),
            at(10),
        )
    }

    #[test]
    fn strategies_round_trip_and_unknown_ones_are_refused() {
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::parse(strategy.as_str()), Ok(strategy));
        }
        assert_eq!(Strategy::ALL.len(), 11);
        for bad in ["", "Google", "saml", " oidc"] {
            assert_eq!(Strategy::parse(bad), Err(StrategyError), "{bad:?}");
        }
    }

    #[test]
    fn only_auth0_and_oidc_require_a_discovery_url() {
        let requiring: Vec<_> = Strategy::ALL
            .into_iter()
            .filter(|s| s.requires_discovery_url())
            .collect();
        assert_eq!(requiring, vec![Strategy::Auth0, Strategy::Oidc]);
        assert_eq!(
            create(Strategy::Oidc, None),
            Err(ConnectionRuleError::DiscoveryUrlRequired(Strategy::Oidc))
        );
        assert!(create(Strategy::Auth0, None).is_err());
        assert!(create(Strategy::Google, None).is_ok());
        assert!(
            create(
                Strategy::Oidc,
                Some("https://idp.example/.well-known/openid-configuration")
            )
            .is_ok()
        );
    }

    #[test]
    fn discovery_urls_must_be_absolute_https_without_fragment() {
        assert!(
            DiscoveryUrl::parse("https://idp.example/.well-known/openid-configuration").is_ok()
        );
        for (raw, error) in [
            ("http://idp.example/x", DiscoveryUrlError::NotHttps),
            ("ftp://idp.example/x", DiscoveryUrlError::NotHttps),
            ("idp.example/x", DiscoveryUrlError::NotAbsolute),
            ("/relative", DiscoveryUrlError::NotAbsolute),
            ("https:idp.example", DiscoveryUrlError::NotAbsolute),
            (" https://idp.example", DiscoveryUrlError::NotAbsolute),
            ("https://idp.example/x#f", DiscoveryUrlError::Fragment),
        ] {
            assert_eq!(DiscoveryUrl::parse(raw), Err(error), "{raw:?}");
        }
        let long = format!("https://idp.example/{}", "a".repeat(2048));
        assert_eq!(DiscoveryUrl::parse(&long), Err(DiscoveryUrlError::TooLong));
    }

    #[test]
    fn scopes_are_normalized_and_tokens_checked() {
        assert_eq!(
            ProviderScopes::parse("  openid  email profile email ")
                .unwrap()
                .as_str(),
            "openid email profile"
        );
        assert_eq!(ProviderScopes::parse("").unwrap().as_str(), "");
        assert_eq!(
            ProviderScopes::parse("openid \"x\""),
            Err(ProviderScopesError::InvalidToken("\"x\"".into()))
        );
        assert!(matches!(
            ProviderScopes::parse("openid\temail"),
            Err(ProviderScopesError::InvalidToken(_))
        ));
        assert!(matches!(
            ProviderScopes::parse("é"),
            Err(ProviderScopesError::InvalidToken(_))
        ));
        let many: Vec<String> = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(
            ProviderScopes::parse(&many.join(" ")),
            Err(ProviderScopesError::TooMany)
        );
        assert_eq!(
            ProviderScopes::parse(&"a".repeat(1001)),
            Err(ProviderScopesError::TooLong)
        );
    }

    #[test]
    fn names_and_client_ids_are_bounded() {
        assert_eq!(
            DisplayName::parse("  Corp SSO ").unwrap().as_str(),
            "Corp SSO"
        );
        assert_eq!(DisplayName::parse("").unwrap().as_str(), "");
        assert_eq!(
            DisplayName::parse(&"x".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            DisplayName::parse("a\u{7}").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
        assert_eq!(ProviderClientId::parse(" id ").unwrap().as_str(), "id");
        assert_eq!(
            ProviderClientId::parse("  ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            ProviderClientId::parse(&"x".repeat(256)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert_eq!(
            ProviderClientId::parse("a b").map_err(|e| e.problem),
            Err(TextProblem::InvalidCharacter)
        );
    }

    #[test]
    fn apply_refuses_to_drop_a_required_discovery_url_and_changes_nothing() {
        let mut connection = create(
            Strategy::Oidc,
            Some("https://idp.example/.well-known/openid-configuration"),
        )
        .unwrap();
        let before = connection.clone();
        let changes = ConnectionChanges {
            client_id: Some(ProviderClientId::parse("new").unwrap()),
            discovery_url: Some(None),
            ..ConnectionChanges::default()
        };
        assert!(connection.apply(changes, at(20)).is_err());
        assert_eq!(connection, before);
    }

    #[test]
    fn apply_updates_fields_and_keeps_the_secret_when_absent() {
        let mut connection = create(Strategy::Github, None).unwrap();
        connection
            .apply(
                ConnectionChanges {
                    enforce_sso: Some(true),
                    discovery_url: Some(Some(DiscoveryUrl::parse("https://gh.example/d").unwrap())),
                    ..ConnectionChanges::default()
                },
                at(5),
            )
            .unwrap();
        assert!(connection.enforce_sso);
        assert!(connection.client_secret_set());
        assert_eq!(connection.updated_at, at(10), "never before created_at");
        connection
            .apply(
                ConnectionChanges {
                    client_secret: Some(EncryptedClientSecret::new(vec![9])),
                    discovery_url: Some(None),
                    ..ConnectionChanges::default()
                },
                at(30),
            )
            .unwrap();
        assert_eq!(connection.client_secret.as_ref().unwrap().as_bytes(), &[9]);
        assert_eq!(connection.discovery_url, None);
        assert_eq!(connection.updated_at, at(30));
    }

    #[test]
    fn from_parts_rechecks_invariants_and_debug_hides_ciphertext() {
        let mut connection = create(Strategy::Google, None).unwrap();
        assert!(Connection::from_parts(connection.clone()).is_ok());
        connection.strategy = Strategy::Oidc;
        assert!(matches!(
            Connection::from_parts(connection.clone()),
            Err(ConnectionStateError::Rule(..))
        ));
        connection.strategy = Strategy::Google;
        connection.updated_at = at(1);
        assert!(matches!(
            Connection::from_parts(connection.clone()),
            Err(ConnectionStateError::Timestamps(_))
        ));
        assert_eq!(
            format!("{:?}", EncryptedClientSecret::new(vec![1, 2, 3])),
            "EncryptedClientSecret(3 bytes)"
        );
    }
}
