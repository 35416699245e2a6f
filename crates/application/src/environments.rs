//! Environments: creation with everything an environment needs to be used at
//! once (a signing key, the Management API, a bootstrap client), listing, and
//! the resolution of a host label to an environment, cached.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use portcullis_domain::environment::{DEFAULT_SLUG, Environment, Slug, SlugError};
use portcullis_domain::oauth::{
    Client, ClientGrant, ClientType, GrantType, MANAGEMENT_API_NAME, ResourceServer, Scope,
    TokenFormat, TokenLifetime, management_api_scopes,
};
use portcullis_domain::signing_key::{EncryptedPrivateKey, KeyStatus, SigningKey};
use portcullis_domain::{
    ClientGrantId, ClientId, EnvironmentId, ResourceServerId, ScopeId, SigningKeyId,
};
use portcullis_ports::crypto::CryptoError;
use portcullis_ports::store::{StoreError, Unique, UnitOfWork};
use secrecy::{ExposeSecret, SecretString};

use crate::Ports;
use crate::principal::Actor;
use crate::representation;

/// How issuers are built from the configured public URL: the default
/// environment's issuer is the URL itself, environment `x`'s is the same URL
/// with host `x.<host>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerTemplate {
    /// `http` or `https`.
    pub scheme: String,
    /// Host of the default environment (`localhost`, `auth.example.com`).
    pub host: String,
    /// Explicit port, if the URL has one.
    pub port: Option<u16>,
}

impl IssuerTemplate {
    /// The issuer of the environment with `slug`.
    #[must_use]
    pub fn issuer(&self, slug: &str) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        if slug == DEFAULT_SLUG {
            format!("{}://{}{port}", self.scheme, self.host)
        } else {
            format!("{}://{slug}.{}{port}", self.scheme, self.host)
        }
    }
}

/// The audience of an environment's Management API: its issuer followed by `/api`.
#[must_use]
pub fn management_audience(issuer: &str) -> String {
    format!("{issuer}/api")
}

/// An environment with the names its tokens carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedEnvironment {
    /// The environment.
    pub environment: Environment,
    /// Its issuer (`iss`).
    pub issuer: String,
    /// Its Management API identifier (`aud` of management tokens).
    pub management_audience: String,
}

/// Credentials chosen by the operator for a bootstrap client.
#[derive(Clone, Debug)]
pub struct BootstrapCredentials {
    /// The `client_id`.
    pub client_id: String,
    /// The secret.
    pub client_secret: SecretString,
}

/// What creating an environment produced; the secret is here and nowhere else.
#[derive(Debug)]
pub struct CreatedEnvironment {
    /// The environment.
    pub environment: ResolvedEnvironment,
    /// The bootstrap client's `client_id`.
    pub client_id: String,
    /// The bootstrap client's secret when it was generated (absent when configured).
    pub generated_secret: Option<SecretString>,
}

/// Why an environment could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateEnvironmentError {
    /// The slug is not a DNS label.
    #[error(transparent)]
    InvalidSlug(#[from] SlugError),
    /// Configured bootstrap credentials are unusable.
    #[error("bootstrap credentials: {0}")]
    InvalidBootstrap(&'static str),
    /// The slug is taken.
    #[error("environment `{0}` already exists")]
    AlreadyExists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation or encryption failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Environments and their resolution.
pub struct EnvironmentService<U> {
    ports: Ports<U>,
    issuers: IssuerTemplate,
    cache: RwLock<HashMap<String, Arc<ResolvedEnvironment>>>,
}

impl<U> std::fmt::Debug for EnvironmentService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvironmentService")
            .field("issuers", &self.issuers)
            .finish_non_exhaustive()
    }
}

const MIN_CONFIGURED_SECRET: usize = 32;

impl<U: UnitOfWork> EnvironmentService<U> {
    /// A service building issuers from `issuers`.
    pub fn new(ports: Ports<U>, issuers: IssuerTemplate) -> Self {
        Self {
            ports,
            issuers,
            cache: RwLock::default(),
        }
    }

    fn resolved(&self, environment: Environment) -> ResolvedEnvironment {
        let issuer = self.issuers.issuer(environment.slug.as_str());
        ResolvedEnvironment {
            management_audience: management_audience(&issuer),
            issuer,
            environment,
        }
    }

    /// The environment selected by a host label. Environments never change
    /// once created, so a found one is cached for the life of the process;
    /// unknown labels are asked of the store each time, so that an
    /// environment created by the CLI while the server runs is found.
    ///
    /// The issuer follows the configured public URL; the Management API
    /// audience is the identifier stored at creation, so that tokens keep
    /// naming the resource server they are issued for even when the
    /// environment was created under another URL (a CLI run with other
    /// settings, a later change of port).
    ///
    /// # Errors
    /// The store's failure.
    pub async fn resolve(
        &self,
        slug: &str,
    ) -> Result<Option<Arc<ResolvedEnvironment>>, StoreError> {
        if let Some(found) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(slug)
        {
            return Ok(Some(Arc::clone(found)));
        }
        if Slug::parse(slug).is_err() {
            return Ok(None);
        }
        let wanted = slug.to_owned();
        let found = self
            .ports
            .store
            .read(move |tx| {
                let Some(environment) = tx.find_environment_by_slug(&wanted)? else {
                    return Ok(None);
                };
                let api = tx.find_system_resource_server(environment.id)?;
                Ok::<_, StoreError>(Some((environment, api)))
            })
            .await?;
        Ok(found.map(|(environment, api)| {
            let mut resolved = self.resolved(environment);
            if let Some(api) = api {
                resolved.management_audience = api.identifier;
            }
            let resolved = Arc::new(resolved);
            self.cache
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(slug.to_owned(), Arc::clone(&resolved));
            resolved
        }))
    }

    /// Every environment, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(&self) -> Result<Vec<ResolvedEnvironment>, StoreError> {
        let all = self.ports.store.read(|tx| tx.list_environments()).await?;
        Ok(all.into_iter().map(|e| self.resolved(e)).collect())
    }

    /// Creates the default environment unless it exists; `None` when it did.
    ///
    /// # Errors
    /// As [`EnvironmentService::create`], except that losing a creation race is not an error.
    pub async fn ensure_default(
        &self,
        bootstrap: Option<BootstrapCredentials>,
    ) -> Result<Option<CreatedEnvironment>, CreateEnvironmentError> {
        if self.resolve(DEFAULT_SLUG).await?.is_some() {
            return Ok(None);
        }
        match self.create(DEFAULT_SLUG, bootstrap).await {
            Ok(created) => Ok(Some(created)),
            Err(CreateEnvironmentError::AlreadyExists(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Creates an environment with its first signing key, the Management API
    /// resource server with every scope, and a bootstrap client granted all
    /// of them, in one transaction.
    ///
    /// # Errors
    /// [`CreateEnvironmentError`].
    pub async fn create(
        &self,
        slug: &str,
        bootstrap: Option<BootstrapCredentials>,
    ) -> Result<CreatedEnvironment, CreateEnvironmentError> {
        let slug = Slug::parse(slug)?;
        if let Some(given) = &bootstrap {
            let id_ok = !given.client_id.is_empty()
                && given.client_id.len() <= 128
                && given
                    .client_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !id_ok {
                return Err(CreateEnvironmentError::InvalidBootstrap(
                    "client_id must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~",
                ));
            }
            if given.client_secret.expose_secret().len() < MIN_CONFIGURED_SECRET {
                return Err(CreateEnvironmentError::InvalidBootstrap(
                    "client_secret must have at least 32 characters",
                ));
            }
        }
        let ports = &self.ports;
        let now = ports.clock.now();
        let environment = Environment {
            id: EnvironmentId::from_ulid(ports.ids.next_ulid()),
            slug,
            created_at: now,
        };
        let resolved = self.resolved(environment.clone());

        let pair = ports.jwt.generate_key_pair().await?;
        let key = SigningKey {
            id: SigningKeyId::from_ulid(ports.ids.next_ulid()),
            environment_id: environment.id,
            kid: pair.kid,
            status: KeyStatus::Active,
            primary: true,
            public_jwk: pair.public_jwk,
            private_key: EncryptedPrivateKey::new(
                ports
                    .cipher
                    .encrypt(secrecy::ExposeSecret::expose_secret(&pair.private_pem))?,
            ),
            created_at: now,
            deactivated_at: None,
        };
        let api = ResourceServer {
            id: ResourceServerId::from_ulid(ports.ids.next_ulid()),
            environment_id: environment.id,
            name: MANAGEMENT_API_NAME.to_owned(),
            identifier: resolved.management_audience.clone(),
            token_lifetime: TokenLifetime::DEFAULT,
            system: true,
            created_at: now,
            updated_at: now,
        };
        let scope_names = management_api_scopes();
        let scopes: Vec<Scope> = scope_names
            .iter()
            .map(|name| {
                let (collection, verb) = name.split_once(':').unwrap_or((name, ""));
                Scope {
                    id: ScopeId::from_ulid(ports.ids.next_ulid()),
                    environment_id: environment.id,
                    resource_server_id: api.id,
                    name: name.clone(),
                    description: format!("{} {}", capitalize(verb), collection.replace('_', " ")),
                    created_at: now,
                }
            })
            .collect();
        let (client_id, secret, generated_secret) = match bootstrap {
            Some(given) => (given.client_id, given.client_secret, None),
            None => {
                let secret = ports.secrets.generate_secret();
                (
                    ports.secrets.generate_identifier(),
                    secret.clone(),
                    Some(secret),
                )
            }
        };
        let client = Client {
            id: ClientId::from_ulid(ports.ids.next_ulid()),
            environment_id: environment.id,
            client_id: client_id.clone(),
            name: "Bootstrap client".to_owned(),
            client_type: ClientType::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: Vec::new(),
            token_format: TokenFormat::Jwt,
            first_party: true,
            secret_digest: Some(ports.secrets.digest_secret(secret.expose_secret())),
            created_at: now,
            updated_at: now,
        };
        let grant = ClientGrant {
            id: ClientGrantId::from_ulid(ports.ids.next_ulid()),
            environment_id: environment.id,
            client_id: client.id,
            resource_server_id: api.id,
            allowed_scopes: scope_names,
            created_at: now,
        };
        let actor = Actor::system(environment.id);
        let events = [
            ports.event(
                &actor,
                "signing_key.created",
                &representation::signing_key(&key),
            ),
            ports.event(
                &actor,
                "resource_server.created",
                &representation::resource_server(&api),
            ),
            ports.event(&actor, "client.created", &representation::client(&client)),
            ports.event(
                &actor,
                "client_grant.created",
                &representation::client_grant(&grant),
            ),
        ];
        let slug_text = environment.slug.as_str().to_owned();
        let stored = environment.clone();
        ports
            .store
            .transaction(move |tx| {
                tx.insert_environment(&stored).map_err(|e| match e {
                    StoreError::Conflict(Unique::EnvironmentSlug) => {
                        CreateEnvironmentError::AlreadyExists(slug_text)
                    }
                    other => other.into(),
                })?;
                tx.insert_signing_key(&key)?;
                tx.insert_resource_server(&api)?;
                tx.insert_scopes(&scopes)?;
                tx.insert_client(&client)?;
                tx.insert_client_grant(&grant)?;
                for event in &events {
                    tx.append_event(event)?;
                }
                Ok::<_, CreateEnvironmentError>(())
            })
            .await?;
        tracing::info!(environment = %resolved.environment.slug.as_str(), "environment created");
        Ok(CreatedEnvironment {
            environment: resolved,
            client_id,
            generated_secret,
        })
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, key_pair};
    use portcullis_ports::testing::{InlineUow, MockTx};

    fn template() -> IssuerTemplate {
        IssuerTemplate {
            scheme: "http".into(),
            host: "localhost".into(),
            port: Some(8080),
        }
    }

    #[test]
    fn issuers_put_the_slug_in_front_of_the_host_except_for_the_default() {
        assert_eq!(template().issuer("default"), "http://localhost:8080");
        assert_eq!(
            template().issuer("staging"),
            "http://staging.localhost:8080"
        );
        assert_eq!(
            management_audience("http://staging.localhost:8080"),
            "http://staging.localhost:8080/api"
        );
        let https = IssuerTemplate {
            scheme: "https".into(),
            host: "auth.example.com".into(),
            port: None,
        };
        assert_eq!(https.issuer("acme"), "https://acme.auth.example.com");
    }

    #[tokio::test]
    async fn create_writes_everything_and_its_events_in_one_transaction() {
        let mut tx = MockTx::new();
        tx.expect_insert_environment()
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_signing_key()
            .withf(|k| k.primary && k.status == KeyStatus::Active)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_resource_server()
            .withf(|rs| rs.system && rs.identifier == "http://staging.localhost:8080/api")
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_scopes()
            .withf(|s| s.len() == 36)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_client()
            .withf(|c| {
                c.secret_digest
                    .as_ref()
                    .is_some_and(|d| d.as_str() == "digest-of:generated-secret")
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_insert_client_grant()
            .withf(|g| g.allowed_scopes.len() == 36)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(4).returning(|_| Ok(()));
        let uow = InlineUow::new(tx);
        let ports = fixed_ports(uow.clone(), Some(key_pair()));
        let service = EnvironmentService::new(ports, template());

        let created = service.create("staging", None).await.unwrap();

        assert_eq!(created.environment.issuer, "http://staging.localhost:8080");
        assert_eq!(
            created.generated_secret.unwrap().expose_secret(),
            "generated-secret"
        );
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn a_taken_slug_is_reported_and_rolled_back() {
        let mut tx = MockTx::new();
        tx.expect_insert_environment()
            .returning(|_| Err(StoreError::Conflict(Unique::EnvironmentSlug)));
        let uow = InlineUow::new(tx);
        let service =
            EnvironmentService::new(fixed_ports(uow.clone(), Some(key_pair())), template());

        let err = service.create("staging", None).await.unwrap_err();

        assert!(matches!(err, CreateEnvironmentError::AlreadyExists(slug) if slug == "staging"));
        assert_eq!(uow.log().rolled_back, 1);
    }

    #[tokio::test]
    async fn short_configured_secrets_and_bad_slugs_are_refused_before_any_work() {
        let uow = InlineUow::new(MockTx::new());
        let service = EnvironmentService::new(fixed_ports(uow.clone(), None), template());
        let weak = BootstrapCredentials {
            client_id: "ci".into(),
            client_secret: SecretString::from("short"),
        };
        assert!(matches!(
            service.create("default", Some(weak)).await,
            Err(CreateEnvironmentError::InvalidBootstrap(_))
        ));
        assert!(matches!(
            service.create("Bad Slug", None).await,
            Err(CreateEnvironmentError::InvalidSlug(_))
        ));
        assert_eq!(uow.log(), portcullis_ports::testing::UowLog::default());
    }

    #[tokio::test]
    async fn resolution_caches_found_environments_with_their_stored_audience() {
        let mut tx = MockTx::new();
        tx.expect_find_environment_by_slug()
            .times(1)
            .returning(|slug| {
                Ok(Some(Environment {
                    id: EnvironmentId::from_ulid(ulid::Ulid::nil()),
                    slug: Slug::parse(slug).unwrap(),
                    created_at: portcullis_domain::Timestamp::from_unix_micros(0).unwrap(),
                }))
            });
        tx.expect_find_system_resource_server()
            .times(1)
            .returning(|env| {
                let at = portcullis_domain::Timestamp::from_unix_micros(0).unwrap();
                Ok(Some(ResourceServer {
                    id: ResourceServerId::from_ulid(ulid::Ulid::nil()),
                    environment_id: env,
                    name: MANAGEMENT_API_NAME.into(),
                    identifier: "http://acme.localhost:9000/api".into(),
                    token_lifetime: TokenLifetime::DEFAULT,
                    system: true,
                    created_at: at,
                    updated_at: at,
                }))
            });
        let uow = InlineUow::new(tx);
        let service = EnvironmentService::new(fixed_ports(uow.clone(), None), template());
        for _ in 0..3 {
            let found = service.resolve("acme").await.unwrap().unwrap();
            assert_eq!(
                found.issuer, "http://acme.localhost:8080",
                "the issuer follows the configuration"
            );
            assert_eq!(
                found.management_audience, "http://acme.localhost:9000/api",
                "the audience is the stored one"
            );
        }
        assert_eq!(uow.log().reads, 1);
        assert!(service.resolve("NOT A SLUG").await.unwrap().is_none());
    }
}
