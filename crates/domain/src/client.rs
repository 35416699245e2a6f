//! The rules of OAuth clients as the Management API writes them: a name,
//! redirect URIs, grant types, and the rules that tie them to the client
//! type. Every parser reports all the problems it finds, each with the index
//! of the offending list item, so that callers can point at it.

use std::net::IpAddr;

use url::{Host, Url};

use crate::oauth::{Client, ClientType, GrantType, SecretDigest, TokenFormat};
use crate::text::TextRules;
use crate::{ClientId, EnvironmentId, Timestamp};

crate::bounded_text! {
    /// A client name: trimmed, 1 to 100 characters, no control characters.
    pub struct ClientName = TextRules::name("name", 100);
}

/// A redirect URI: absolute, `https` (or `http` for a loopback host:
/// `localhost`, 127.0.0.0/8, `[::1]`), without fragment, at most 2048
/// characters. It is kept exactly as given, since OAuth compares redirect
/// URIs as strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    normalized: Url,
}

/// Why a text cannot be a [`RedirectUri`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUriError {
    /// Not an absolute URI with a host.
    #[error("redirect URI must be an absolute URI with a host")]
    NotAbsolute,
    /// Another scheme than `https` or `http`.
    #[error("redirect URI must use https (or http for a loopback host)")]
    UnsupportedScheme,
    /// `http` for a host other than a loopback one.
    #[error("redirect URI may use http only for localhost, 127.0.0.0/8 or [::1]")]
    InsecureHttp,
    /// Holds a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// Over 2048 characters.
    #[error("redirect URI is longer than 2048 characters")]
    TooLong,
    /// Holds a control character, which no URI may (RFC 3986 §2); the URL
    /// parser would silently drop or encode it while the text is stored as
    /// given.
    #[error("redirect URI contains a control character")]
    ControlCharacter,
}

fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

impl RedirectUri {
    /// Largest accepted length in characters.
    pub const MAX_CHARS: usize = 2048;

    /// Parses a redirect URI.
    ///
    /// # Errors
    /// [`RedirectUriError`].
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(RedirectUriError::TooLong);
        }
        if raw.chars().any(char::is_control) {
            return Err(RedirectUriError::ControlCharacter);
        }
        if raw.trim() != raw || raw.contains('#') {
            // A `#` anywhere starts a fragment, even an empty one.
            return Err(if raw.contains('#') {
                RedirectUriError::Fragment
            } else {
                RedirectUriError::NotAbsolute
            });
        }
        let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(url.host()) => {}
            "http" => return Err(RedirectUriError::InsecureHttp),
            _ => return Err(RedirectUriError::UnsupportedScheme),
        }
        if url.host().is_none() || !raw.contains("://") {
            return Err(RedirectUriError::NotAbsolute);
        }
        Ok(Self {
            raw: raw.to_owned(),
            normalized: url,
        })
    }

    /// The URI as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

/// The largest number of redirect URIs a client may register.
pub const MAX_REDIRECT_URIS: usize = 10;

/// What is wrong with a list of redirect URIs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RedirectUrisError {
    /// More than [`MAX_REDIRECT_URIS`].
    #[error("a client has at most 10 redirect URIs")]
    TooMany,
    /// The item at `index` is not a valid redirect URI.
    #[error("redirect_uris[{index}]: {error}")]
    Invalid {
        /// Position in the list.
        index: usize,
        /// What is wrong with it.
        error: RedirectUriError,
    },
    /// The item at `index` repeats an earlier one (compared normalized:
    /// scheme and host case, default port).
    #[error("redirect_uris[{index}] repeats an earlier redirect URI")]
    Duplicate {
        /// Position in the list.
        index: usize,
    },
}

/// A valid list of redirect URIs: at most 10, each valid, no duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RedirectUris(Vec<RedirectUri>);

impl RedirectUris {
    /// Parses a list, reporting every problem.
    ///
    /// # Errors
    /// Every [`RedirectUrisError`] found, in list order (`TooMany` first).
    pub fn parse(raw: &[String]) -> Result<Self, Vec<RedirectUrisError>> {
        let mut errors = Vec::new();
        if raw.len() > MAX_REDIRECT_URIS {
            errors.push(RedirectUrisError::TooMany);
        }
        let mut uris: Vec<RedirectUri> = Vec::with_capacity(raw.len());
        for (index, item) in raw.iter().enumerate() {
            match RedirectUri::parse(item) {
                Ok(uri) if uris.iter().any(|u| u.normalized == uri.normalized) => {
                    errors.push(RedirectUrisError::Duplicate { index });
                }
                Ok(uri) => uris.push(uri),
                Err(error) => errors.push(RedirectUrisError::Invalid { index, error }),
            }
        }
        if errors.is_empty() {
            Ok(Self(uris))
        } else {
            Err(errors)
        }
    }

    /// Whether the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The URIs as given.
    #[must_use]
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|u| u.raw.clone()).collect()
    }
}

/// What is wrong with a list of grant types.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GrantTypesError {
    /// No grant type at all.
    #[error("a client needs at least one grant type")]
    Empty,
    /// The item at `index` is not a grant type.
    #[error(
        "grant_types[{index}] is not one of authorization_code, client_credentials, refresh_token"
    )]
    Unknown {
        /// Position in the list.
        index: usize,
    },
    /// The item at `index` repeats an earlier one.
    #[error("grant_types[{index}] repeats an earlier grant type")]
    Duplicate {
        /// Position in the list.
        index: usize,
    },
}

/// A valid, non-empty set of grant types, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantTypes(Vec<GrantType>);

impl GrantTypes {
    /// Parses a list of wire names, reporting every problem.
    ///
    /// # Errors
    /// Every [`GrantTypesError`] found, in list order.
    pub fn parse(raw: &[String]) -> Result<Self, Vec<GrantTypesError>> {
        if raw.is_empty() {
            return Err(vec![GrantTypesError::Empty]);
        }
        let mut errors = Vec::new();
        let mut grants = Vec::with_capacity(raw.len());
        for (index, item) in raw.iter().enumerate() {
            match GrantType::parse(item) {
                Some(grant) if grants.contains(&grant) => {
                    errors.push(GrantTypesError::Duplicate { index });
                }
                Some(grant) => grants.push(grant),
                None => errors.push(GrantTypesError::Unknown { index }),
            }
        }
        if errors.is_empty() {
            Ok(Self(grants))
        } else {
            Err(errors)
        }
    }

    /// The grant types a client of `client_type` gets when none are given:
    /// `client_credentials` for a confidential client (a machine), and
    /// `authorization_code` with `refresh_token` for a public one.
    #[must_use]
    pub fn default_for(client_type: ClientType) -> Self {
        match client_type {
            ClientType::Confidential => Self(vec![GrantType::ClientCredentials]),
            ClientType::Public => Self(vec![GrantType::AuthorizationCode, GrantType::RefreshToken]),
        }
    }

    /// The grant types.
    #[must_use]
    pub fn as_slice(&self) -> &[GrantType] {
        &self.0
    }
}

/// A rule tying a client's attributes together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientRuleError {
    /// A public client lists `client_credentials` (at `index` of its grant types).
    #[error("a public client cannot use client_credentials")]
    PublicClientCredentials {
        /// Position in the grant types.
        index: usize,
    },
    /// `authorization_code` without any redirect URI.
    #[error("authorization_code needs at least one redirect URI")]
    RedirectUriRequired,
}

fn rule_errors(
    client_type: ClientType,
    grant_types: &[GrantType],
    redirect_uris: &[String],
) -> Vec<ClientRuleError> {
    let mut errors = Vec::new();
    if client_type == ClientType::Public
        && let Some(index) = grant_types
            .iter()
            .position(|g| *g == GrantType::ClientCredentials)
    {
        errors.push(ClientRuleError::PublicClientCredentials { index });
    }
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        errors.push(ClientRuleError::RedirectUriRequired);
    }
    errors
}

/// The settings of a new client, each already valid on its own.
#[derive(Clone, Debug)]
pub struct NewClient {
    /// Display name.
    pub name: ClientName,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Grant types.
    pub grant_types: GrantTypes,
    /// Redirect URIs.
    pub redirect_uris: RedirectUris,
    /// Token encoding.
    pub token_format: TokenFormat,
    /// Whether the operator owns the client.
    pub first_party: bool,
}

/// A partial update; `None` leaves a field as it is. The client type is
/// fixed at creation.
#[derive(Clone, Debug, Default)]
pub struct ClientChanges {
    /// New name.
    pub name: Option<ClientName>,
    /// New grant types.
    pub grant_types: Option<GrantTypes>,
    /// New redirect URIs.
    pub redirect_uris: Option<RedirectUris>,
    /// New token encoding.
    pub token_format: Option<TokenFormat>,
    /// New first-party flag.
    pub first_party: Option<bool>,
}

/// A public client has no secret to rotate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a public client has no secret")]
pub struct PublicClientHasNoSecret;

impl Client {
    /// Registers a client. A confidential client needs `secret_digest`; a
    /// public one gets none (a given digest is dropped).
    ///
    /// # Errors
    /// Every [`ClientRuleError`] the settings break.
    pub fn register(
        id: ClientId,
        environment_id: EnvironmentId,
        client_id: String,
        new: NewClient,
        secret_digest: Option<SecretDigest>,
        now: Timestamp,
    ) -> Result<Self, Vec<ClientRuleError>> {
        let grant_types = new.grant_types.0;
        let redirect_uris = new.redirect_uris.to_strings();
        let errors = rule_errors(new.client_type, &grant_types, &redirect_uris);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            id,
            environment_id,
            client_id,
            name: new.name.0,
            client_type: new.client_type,
            grant_types,
            redirect_uris,
            token_format: new.token_format,
            first_party: new.first_party,
            secret_digest: match new.client_type {
                ClientType::Confidential => secret_digest,
                ClientType::Public => None,
            },
            created_at: now,
            updated_at: now,
        })
    }

    /// Applies a partial update; nothing changes when a rule breaks.
    ///
    /// # Errors
    /// Every [`ClientRuleError`] the updated client would break.
    pub fn apply(
        &mut self,
        changes: ClientChanges,
        now: Timestamp,
    ) -> Result<(), Vec<ClientRuleError>> {
        let grant_types = changes
            .grant_types
            .map_or_else(|| self.grant_types.clone(), |g| g.0);
        let redirect_uris = changes
            .redirect_uris
            .map_or_else(|| self.redirect_uris.clone(), |r| r.to_strings());
        let errors = rule_errors(self.client_type, &grant_types, &redirect_uris);
        if !errors.is_empty() {
            return Err(errors);
        }
        if let Some(name) = changes.name {
            self.name = name.0;
        }
        self.grant_types = grant_types;
        self.redirect_uris = redirect_uris;
        if let Some(format) = changes.token_format {
            self.token_format = format;
        }
        if let Some(first_party) = changes.first_party {
            self.first_party = first_party;
        }
        self.updated_at = now.max(self.created_at);
        Ok(())
    }

    /// Replaces the secret's digest.
    ///
    /// # Errors
    /// [`PublicClientHasNoSecret`] for a public client.
    pub fn rotate_secret(
        &mut self,
        digest: SecretDigest,
        now: Timestamp,
    ) -> Result<(), PublicClientHasNoSecret> {
        if self.client_type == ClientType::Public {
            return Err(PublicClientHasNoSecret);
        }
        self.secret_digest = Some(digest);
        self.updated_at = now.max(self.created_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::TextProblem;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn at(micros: i64) -> Timestamp {
        Timestamp::from_unix_micros(micros).unwrap()
    }

    fn new_client(client_type: ClientType, grants: &[&str], uris: &[&str]) -> NewClient {
        NewClient {
            name: ClientName::parse("App").unwrap(),
            client_type,
            grant_types: GrantTypes::parse(&strings(grants)).unwrap(),
            redirect_uris: RedirectUris::parse(&strings(uris)).unwrap(),
            token_format: TokenFormat::Jwt,
            first_party: false,
        }
    }

    fn register(new: NewClient) -> Result<Client, Vec<ClientRuleError>> {
        Client::register(
            ClientId::from_ulid(ulid::Ulid::nil()),
            EnvironmentId::from_ulid(ulid::Ulid::nil()),
            "cid".into(),
            new,
            Some(SecretDigest::new("d".into())),
            at(10),
        )
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(ClientName::parse("  My App ").unwrap().as_str(), "My App");
        assert_eq!(
            ClientName::parse(" ").map_err(|e| e.problem),
            Err(TextProblem::Empty)
        );
        assert_eq!(
            ClientName::parse(&"x".repeat(101)).map_err(|e| e.problem),
            Err(TextProblem::TooLong)
        );
        assert!(ClientName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            ClientName::parse("a\u{7}b").map_err(|e| e.problem),
            Err(TextProblem::ControlCharacter)
        );
    }

    #[test]
    fn redirect_uris_must_be_https_or_loopback_http_without_fragment() {
        for ok in [
            "https://app.example.com/cb?x=1",
            "http://localhost:3000/cb",
            "http://LOCALHOST/cb",
            "http://127.0.0.1:8080/cb",
            "http://127.1.2.3/cb",
            "http://[::1]:9000/cb",
        ] {
            assert_eq!(RedirectUri::parse(ok).unwrap().as_str(), ok, "{ok}");
        }
        let cases = [
            ("http://app.example.com/cb", RedirectUriError::InsecureHttp),
            ("http://128.0.0.1/cb", RedirectUriError::InsecureHttp),
            (
                "http://localhost.evil.com/cb",
                RedirectUriError::InsecureHttp,
            ),
            ("http://[::2]/cb", RedirectUriError::InsecureHttp),
            ("https://app.example.com/cb#x", RedirectUriError::Fragment),
            ("https://app.example.com/cb#", RedirectUriError::Fragment),
            ("/cb", RedirectUriError::NotAbsolute),
            ("app.example.com/cb", RedirectUriError::NotAbsolute),
            ("https:app.example.com", RedirectUriError::NotAbsolute),
            (" https://app.example.com/cb", RedirectUriError::NotAbsolute),
            ("", RedirectUriError::NotAbsolute),
            ("com.example.app:/cb", RedirectUriError::UnsupportedScheme),
            ("ftp://example.com/cb", RedirectUriError::UnsupportedScheme),
            ("javascript:alert(1)", RedirectUriError::UnsupportedScheme),
            (
                "https://app.example.com/cb\0",
                RedirectUriError::ControlCharacter,
            ),
            (
                "https://app.example.com/c\tb",
                RedirectUriError::ControlCharacter,
            ),
            (
                "https://app.example.com/cb\n",
                RedirectUriError::ControlCharacter,
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(RedirectUri::parse(raw), Err(expected), "{raw}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert_eq!(RedirectUri::parse(&long), Err(RedirectUriError::TooLong));
    }

    #[test]
    fn redirect_uri_lists_report_every_bad_item_with_its_index() {
        let errors = RedirectUris::parse(&strings(&[
            "https://a.example/cb",
            "http://a.example/cb",
            "HTTPS://A.example:443/cb",
            "https://b.example/cb#f",
        ]))
        .unwrap_err();
        assert_eq!(
            errors,
            [
                RedirectUrisError::Invalid {
                    index: 1,
                    error: RedirectUriError::InsecureHttp
                },
                RedirectUrisError::Duplicate { index: 2 },
                RedirectUrisError::Invalid {
                    index: 3,
                    error: RedirectUriError::Fragment
                },
            ]
        );
        let eleven: Vec<String> = (0..11).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(
            RedirectUris::parse(&eleven).unwrap_err(),
            [RedirectUrisError::TooMany]
        );
        assert_eq!(
            RedirectUris::parse(&eleven[..10])
                .unwrap()
                .to_strings()
                .len(),
            10
        );
        assert!(RedirectUris::parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn grant_types_are_a_non_empty_set_of_known_names() {
        assert_eq!(
            GrantTypes::parse(&strings(&["refresh_token", "authorization_code"]))
                .unwrap()
                .as_slice(),
            [GrantType::RefreshToken, GrantType::AuthorizationCode]
        );
        assert_eq!(
            GrantTypes::parse(&[]).unwrap_err(),
            [GrantTypesError::Empty]
        );
        assert_eq!(
            GrantTypes::parse(&strings(&[
                "client_credentials",
                "implicit",
                "client_credentials"
            ]))
            .unwrap_err(),
            [
                GrantTypesError::Unknown { index: 1 },
                GrantTypesError::Duplicate { index: 2 }
            ]
        );
        assert_eq!(
            GrantTypes::default_for(ClientType::Confidential).as_slice(),
            [GrantType::ClientCredentials]
        );
        assert_eq!(
            GrantTypes::default_for(ClientType::Public).as_slice(),
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );
    }

    #[test]
    fn registering_checks_the_rules_between_attributes() {
        let client = register(new_client(
            ClientType::Confidential,
            &["client_credentials"],
            &[],
        ))
        .unwrap();
        assert_eq!(client.name, "App");
        assert!(client.secret_digest.is_some());
        assert_eq!((client.created_at, client.updated_at), (at(10), at(10)));

        let public = register(new_client(
            ClientType::Public,
            &["authorization_code"],
            &["https://a.example/cb"],
        ))
        .unwrap();
        assert_eq!(
            public.secret_digest, None,
            "a public client never has a digest"
        );

        assert_eq!(
            register(new_client(
                ClientType::Public,
                &["refresh_token", "client_credentials", "authorization_code"],
                &[]
            ))
            .unwrap_err(),
            [
                ClientRuleError::PublicClientCredentials { index: 1 },
                ClientRuleError::RedirectUriRequired
            ]
        );
    }

    #[test]
    fn updates_keep_the_rules_and_change_nothing_when_they_break() {
        let mut client = register(new_client(
            ClientType::Confidential,
            &["authorization_code"],
            &["https://a.example/cb"],
        ))
        .unwrap();
        let before = client.clone();
        let err = client
            .apply(
                ClientChanges {
                    name: Some(ClientName::parse("Other").unwrap()),
                    redirect_uris: Some(RedirectUris::default()),
                    ..ClientChanges::default()
                },
                at(20),
            )
            .unwrap_err();
        assert_eq!(err, [ClientRuleError::RedirectUriRequired]);
        assert_eq!(client, before);

        client
            .apply(
                ClientChanges {
                    name: Some(ClientName::parse("Other").unwrap()),
                    grant_types: Some(
                        GrantTypes::parse(&strings(&["client_credentials"])).unwrap(),
                    ),
                    redirect_uris: Some(RedirectUris::default()),
                    token_format: Some(TokenFormat::Opaque),
                    first_party: Some(true),
                },
                at(20),
            )
            .unwrap();
        assert_eq!(client.name, "Other");
        assert_eq!(client.grant_types, [GrantType::ClientCredentials]);
        assert!(client.redirect_uris.is_empty());
        assert_eq!(client.token_format, TokenFormat::Opaque);
        assert!(client.first_party);
        assert_eq!(client.updated_at, at(20));
        client.apply(ClientChanges::default(), at(1)).unwrap();
        assert_eq!(client.updated_at, at(10), "never before creation");
    }

    #[test]
    fn only_confidential_clients_rotate_their_secret() {
        let mut client = register(new_client(
            ClientType::Confidential,
            &["client_credentials"],
            &[],
        ))
        .unwrap();
        client
            .rotate_secret(SecretDigest::new("new".into()), at(30))
            .unwrap();
        assert_eq!(client.secret_digest.as_ref().unwrap().as_str(), "new");
        assert_eq!(client.updated_at, at(30));

        let mut public = register(new_client(
            ClientType::Public,
            &["authorization_code"],
            &["https://a.example/cb"],
        ))
        .unwrap();
        assert_eq!(
            public.rotate_secret(SecretDigest::new("new".into()), at(30)),
            Err(PublicClientHasNoSecret)
        );
        assert_eq!(public.secret_digest, None);
    }
}
