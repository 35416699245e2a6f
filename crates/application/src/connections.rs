//! The connections collection: the identity providers of an environment.
//! The provider's client secret is write only: it is encrypted with the
//! master key before it reaches the store, and no response or event ever
//! carries it (only `client_secret_set`). Every change commits with its
//! audit event.

use portcullis_domain::ConnectionId;
use portcullis_domain::connection::{
    Connection, ConnectionChanges, ConnectionRuleError, DiscoveryUrl, DisplayName,
    EncryptedClientSecret, NewConnection, ProviderClientId, ProviderScopes, Strategy,
};
use portcullis_ports::crypto::CryptoError;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::{ExposeSecret as _, SecretString};

use crate::Ports;
use crate::paging::{Page, PageParams};
use crate::principal::Actor;
use crate::representation;
pub use crate::validation::FieldViolation;

/// Largest accepted client secret, in characters.
pub const MAX_CLIENT_SECRET_CHARS: usize = 1000;

/// A new connection as the caller sent it; values are checked by the service.
#[derive(Debug, Clone, Default)]
pub struct CreateConnection {
    /// Required strategy.
    pub strategy: Option<String>,
    /// Display name; absent means empty.
    pub display_name: Option<String>,
    /// Required provider client id.
    pub client_id: Option<String>,
    /// Provider client secret; absent means none.
    pub client_secret: Option<SecretString>,
    /// Space-separated scopes; absent means empty.
    pub scopes: Option<String>,
    /// Discovery URL (required for `auth0` and `oidc`).
    pub discovery_url: Option<String>,
    /// SSO enforcement; absent means false.
    pub enforce_sso: Option<bool>,
}

/// A partial update; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdateConnection {
    /// The strategy; accepted only when it equals the stored one.
    pub strategy: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New client id.
    pub client_id: Option<String>,
    /// New client secret.
    pub client_secret: Option<SecretString>,
    /// New scopes.
    pub scopes: Option<String>,
    /// New discovery URL; `Some(None)` removes it.
    pub discovery_url: Option<Option<String>>,
    /// New SSO enforcement.
    pub enforce_sso: Option<bool>,
}

/// Why a connection was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateConnectionError {
    /// Attributes break rules.
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The secret could not be encrypted.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a connection was not updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateConnectionError {
    /// No such connection in the environment.
    #[error("connection not found")]
    NotFound,
    /// Attributes break rules (including a changed strategy).
    #[error("invalid attributes")]
    Invalid(Vec<FieldViolation>),
    /// The secret could not be encrypted.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a connection could not be read or deleted.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionLookupError {
    /// No such connection in the environment.
    #[error("connection not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn parse_strategy(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<Strategy> {
    Strategy::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("strategy", "invalid_strategy", e)))
        .ok()
}

fn parse_display_name(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<DisplayName> {
    DisplayName::parse(raw)
        .map_err(|e| {
            violations.push(FieldViolation::new(
                "display_name",
                "invalid_display_name",
                e,
            ));
        })
        .ok()
}

fn parse_client_id(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ProviderClientId> {
    ProviderClientId::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("client_id", "invalid_client_id", e)))
        .ok()
}

fn parse_scopes(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<ProviderScopes> {
    ProviderScopes::parse(raw)
        .map_err(|e| violations.push(FieldViolation::new("scopes", "invalid_scopes", e)))
        .ok()
}

fn parse_discovery_url(raw: &str, violations: &mut Vec<FieldViolation>) -> Option<DiscoveryUrl> {
    DiscoveryUrl::parse(raw)
        .map_err(|e| {
            violations.push(FieldViolation::new(
                "discovery_url",
                "invalid_discovery_url",
                e,
            ));
        })
        .ok()
}

fn check_secret(secret: &SecretString, violations: &mut Vec<FieldViolation>) -> bool {
    let text = secret.expose_secret();
    let problem = if text.is_empty() {
        Some("client_secret is empty")
    } else if text.chars().count() > MAX_CLIENT_SECRET_CHARS {
        Some("client_secret is longer than 1000 characters")
    } else if text.chars().any(char::is_control) {
        Some("client_secret contains a control character")
    } else {
        None
    };
    if let Some(detail) = problem {
        violations.push(FieldViolation::new(
            "client_secret",
            "invalid_client_secret",
            detail,
        ));
    }
    problem.is_none()
}

fn rule_violation(error: &ConnectionRuleError) -> FieldViolation {
    match error {
        ConnectionRuleError::DiscoveryUrlRequired(_) => {
            FieldViolation::new("discovery_url", "discovery_url_required", error)
        }
    }
}

/// The connections collection.
pub struct ConnectionService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for ConnectionService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> ConnectionService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    fn encrypt(&self, secret: &SecretString) -> Result<EncryptedClientSecret, CryptoError> {
        self.ports
            .cipher
            .encrypt(secret.expose_secret().as_bytes())
            .map(EncryptedClientSecret::new)
    }

    /// Creates a connection.
    ///
    /// # Errors
    /// [`CreateConnectionError`].
    pub async fn create(
        &self,
        actor: &Actor,
        command: CreateConnection,
    ) -> Result<Connection, CreateConnectionError> {
        let mut violations = Vec::new();
        let strategy = match command.strategy.as_deref() {
            Some(raw) => parse_strategy(raw, &mut violations),
            None => {
                violations.push(FieldViolation::new(
                    "strategy",
                    "strategy_required",
                    "strategy is required",
                ));
                None
            }
        };
        let display_name = command
            .display_name
            .as_deref()
            .map_or(Some(DisplayName::default()), |raw| {
                parse_display_name(raw, &mut violations)
            });
        let client_id = match command.client_id.as_deref() {
            Some(raw) => parse_client_id(raw, &mut violations),
            None => {
                violations.push(FieldViolation::new(
                    "client_id",
                    "client_id_required",
                    "client_id is required",
                ));
                None
            }
        };
        let secret_ok = command
            .client_secret
            .as_ref()
            .is_none_or(|s| check_secret(s, &mut violations));
        let scopes = command
            .scopes
            .as_deref()
            .map_or(Some(ProviderScopes::default()), |raw| {
                parse_scopes(raw, &mut violations)
            });
        let discovery_url = match command.discovery_url.as_deref() {
            Some(raw) => parse_discovery_url(raw, &mut violations).map(Some),
            None => Some(None),
        };
        let (
            Some(strategy),
            Some(display_name),
            Some(client_id),
            Some(scopes),
            Some(discovery_url),
            true,
        ) = (
            strategy,
            display_name,
            client_id,
            scopes,
            discovery_url,
            violations.is_empty() && secret_ok,
        )
        else {
            return Err(CreateConnectionError::Invalid(violations));
        };
        let new = NewConnection {
            strategy,
            display_name,
            client_id,
            client_secret: None,
            scopes,
            discovery_url,
            enforce_sso: command.enforce_sso.unwrap_or(false),
        };
        let id = ConnectionId::from_ulid(self.ports.ids.next_ulid());
        let mut connection =
            Connection::create(id, actor.environment_id(), new, self.ports.clock.now())
                .map_err(|e| CreateConnectionError::Invalid(vec![rule_violation(&e)]))?;
        if let Some(secret) = &command.client_secret {
            connection.client_secret = Some(self.encrypt(secret)?);
        }
        let event = self.ports.event(
            actor,
            "connection.created",
            &representation::connection(&connection),
        );
        let stored = connection.clone();
        self.ports
            .store
            .transaction(move |tx| {
                tx.insert_connection(&stored)?;
                tx.append_event(&event)?;
                Ok::<_, CreateConnectionError>(())
            })
            .await?;
        Ok(connection)
    }

    /// One connection.
    ///
    /// # Errors
    /// [`ConnectionLookupError`].
    pub async fn get(
        &self,
        actor: &Actor,
        id: ConnectionId,
    ) -> Result<Connection, ConnectionLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_connection(env, id))
            .await?
            .ok_or(ConnectionLookupError::NotFound)
    }

    /// One page of connections, in creation order.
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        page: PageParams,
    ) -> Result<Page<Connection>, StoreError> {
        let env = actor.environment_id();
        let keyset = page.keyset();
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_connections(env, &keyset))
            .await?;
        Ok(page.page(rows, |connection| connection.id.to_string()))
    }

    /// Applies a partial update. The strategy cannot change.
    ///
    /// # Errors
    /// [`UpdateConnectionError`].
    pub async fn update(
        &self,
        actor: &Actor,
        id: ConnectionId,
        command: UpdateConnection,
    ) -> Result<Connection, UpdateConnectionError> {
        let mut violations = Vec::new();
        let strategy = command
            .strategy
            .as_deref()
            .and_then(|raw| parse_strategy(raw, &mut violations));
        let display_name = command
            .display_name
            .as_deref()
            .and_then(|raw| parse_display_name(raw, &mut violations));
        let client_id = command
            .client_id
            .as_deref()
            .and_then(|raw| parse_client_id(raw, &mut violations));
        let secret_ok = command
            .client_secret
            .as_ref()
            .is_none_or(|s| check_secret(s, &mut violations));
        let scopes = command
            .scopes
            .as_deref()
            .and_then(|raw| parse_scopes(raw, &mut violations));
        let discovery_url = match command.discovery_url {
            Some(Some(raw)) => parse_discovery_url(&raw, &mut violations).map(Some),
            Some(None) => Some(None),
            None => None,
        };
        if !violations.is_empty() || !secret_ok {
            return Err(UpdateConnectionError::Invalid(violations));
        }
        let client_secret = command
            .client_secret
            .as_ref()
            .map(|s| self.encrypt(s))
            .transpose()?;
        let changes = ConnectionChanges {
            display_name,
            client_id,
            client_secret,
            scopes,
            discovery_url,
            enforce_sso: command.enforce_sso,
        };
        let env = actor.environment_id();
        let now = self.ports.clock.now();
        let ports = self.ports.clone();
        let actor = actor.clone();
        self.ports
            .store
            .transaction(move |tx| {
                let mut connection = tx
                    .find_connection(env, id)?
                    .ok_or(UpdateConnectionError::NotFound)?;
                if let Some(strategy) = strategy
                    && strategy != connection.strategy
                {
                    return Err(UpdateConnectionError::Invalid(vec![FieldViolation::new(
                        "strategy",
                        "strategy_immutable",
                        format!(
                            "the strategy of a connection cannot change (it is {})",
                            connection.strategy.as_str()
                        ),
                    )]));
                }
                connection
                    .apply(changes, now)
                    .map_err(|e| UpdateConnectionError::Invalid(vec![rule_violation(&e)]))?;
                tx.update_connection(&connection).map_err(|e| match e {
                    StoreError::NotFound => UpdateConnectionError::NotFound,
                    other => other.into(),
                })?;
                tx.append_event(&ports.event(
                    &actor,
                    "connection.updated",
                    &representation::connection(&connection),
                ))?;
                Ok(connection)
            })
            .await
    }

    /// Deletes a connection.
    ///
    /// # Errors
    /// [`ConnectionLookupError`].
    pub async fn delete(
        &self,
        actor: &Actor,
        id: ConnectionId,
    ) -> Result<(), ConnectionLookupError> {
        let env = actor.environment_id();
        self.ports
            .delete_recorded(
                actor,
                "connection.deleted",
                move |tx| tx.find_connection(env, id),
                move |tx| tx.delete_connection(env, id),
                representation::connection,
                || ConnectionLookupError::NotFound,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::{EnvironmentId, Timestamp};
    use portcullis_ports::crypto::{MockSecretCipher, SecretCipher as _};
    use portcullis_ports::testing::{InlineUow, MockTx, UowLog};
    use secrecy::SecretBox;
    use std::sync::Arc;

    const SECRET: &str = "provider-secret-value";

    fn actor() -> Actor {
        Actor::system(EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9)))
    }

    /// A cipher that is not the identity: XOR with 0x5a, prefixed by `v1`.
    fn xor_cipher() -> MockSecretCipher {
        let mut cipher = MockSecretCipher::new();
        cipher.expect_encrypt().returning(|p| {
            let mut out = b"v1".to_vec();
            out.extend(p.iter().map(|b| b ^ 0x5a));
            Ok(out)
        });
        cipher.expect_decrypt().returning(|c| {
            let plain: Vec<u8> = c[2..].iter().map(|b| b ^ 0x5a).collect();
            Ok(SecretBox::new(plain.into_boxed_slice()))
        });
        cipher
    }

    fn service(tx: MockTx) -> (ConnectionService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        let mut ports = fixed_ports(uow.clone(), None);
        ports.cipher = Arc::new(xor_cipher());
        (ConnectionService::new(ports), uow)
    }

    fn oidc() -> CreateConnection {
        CreateConnection {
            strategy: Some("oidc".into()),
            display_name: Some(" Corp ".into()),
            client_id: Some("corp-client".into()),
            client_secret: Some(SecretString::from(SECRET)),
            scopes: Some("openid  email profile".into()),
            discovery_url: Some("https://idp.example/.well-known/openid-configuration".into()),
            enforce_sso: None,
        }
    }

    fn existing(strategy: Strategy) -> Connection {
        Connection::create(
            ConnectionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            actor().environment_id(),
            NewConnection {
                strategy,
                display_name: DisplayName::default(),
                client_id: ProviderClientId::parse("cid").unwrap(),
                client_secret: None,
                scopes: ProviderScopes::default(),
                discovery_url: Some(DiscoveryUrl::parse("https://idp.example/d").unwrap()),
                enforce_sso: false,
            },
            Timestamp::from_unix_micros(1).unwrap(),
        )
        .unwrap()
    }

    fn codes(error: &CreateConnectionError) -> Vec<(&'static str, &'static str)> {
        match error {
            CreateConnectionError::Invalid(list) => {
                list.iter().map(|v| (v.field, v.code)).collect()
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn create_encrypts_the_secret_and_keeps_it_out_of_the_event() {
        let mut tx = MockTx::new();
        tx.expect_insert_connection()
            .withf(|c| {
                let sealed = c.client_secret.as_ref().unwrap().as_bytes();
                let opened = xor_cipher().decrypt(sealed).unwrap();
                sealed != SECRET.as_bytes()
                    && opened.expose_secret() == SECRET.as_bytes()
                    && c.strategy == Strategy::Oidc
                    && c.display_name.as_str() == "Corp"
                    && c.scopes.as_str() == "openid email profile"
                    && !c.enforce_sso
                    && c.created_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "connection.created"
                    && e.resource_type == "connection"
                    && e.data.contains("\"client_secret_set\":true")
                    && !e.data.contains(SECRET)
                    && !e.data.contains("\"client_secret\"")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);

        let connection = service.create(&actor(), oidc()).await.unwrap();

        assert!(connection.client_secret_set());
        // What tracing could print (`?command`, `?connection`) never shows the secret.
        assert!(!format!("{connection:?}").contains(SECRET));
        assert!(!format!("{:?}", oidc()).contains(SECRET));
        let update = UpdateConnection {
            client_secret: Some(SecretString::from(SECRET)),
            ..UpdateConnection::default()
        };
        assert!(!format!("{update:?}").contains(SECRET));
        assert_eq!(
            uow.log(),
            UowLog {
                committed: 1,
                ..UowLog::default()
            }
        );
    }

    #[tokio::test]
    async fn create_reports_every_violation_and_touches_nothing() {
        let (service, uow) = service(MockTx::new());
        let error = service
            .create(
                &actor(),
                CreateConnection {
                    strategy: None,
                    client_id: None,
                    display_name: Some("x".repeat(101)),
                    client_secret: Some(SecretString::from("")),
                    scopes: Some("a\"b".into()),
                    discovery_url: Some("http://idp.example".into()),
                    enforce_sso: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            codes(&error),
            vec![
                ("strategy", "strategy_required"),
                ("display_name", "invalid_display_name"),
                ("client_id", "client_id_required"),
                ("client_secret", "invalid_client_secret"),
                ("scopes", "invalid_scopes"),
                ("discovery_url", "invalid_discovery_url"),
            ]
        );
        assert_eq!(uow.log(), UowLog::default());
    }

    #[tokio::test]
    async fn create_requires_a_discovery_url_for_oidc_and_auth0_only() {
        for strategy in ["oidc", "auth0"] {
            let (service, uow) = service(MockTx::new());
            let error = service
                .create(
                    &actor(),
                    CreateConnection {
                        strategy: Some(strategy.into()),
                        discovery_url: None,
                        ..oidc()
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(
                codes(&error),
                vec![("discovery_url", "discovery_url_required")]
            );
            assert_eq!(uow.log(), UowLog::default());
        }
        let mut tx = MockTx::new();
        tx.expect_insert_connection()
            .withf(|c| c.discovery_url.is_none() && c.strategy == Strategy::Google)
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event().times(1).returning(|_| Ok(()));
        let (service, _) = service(tx);
        service
            .create(
                &actor(),
                CreateConnection {
                    strategy: Some("google".into()),
                    discovery_url: None,
                    client_secret: None,
                    ..oidc()
                },
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn update_refuses_a_new_strategy_and_writes_nothing() {
        let mut tx = MockTx::new();
        tx.expect_find_connection()
            .returning(|_, _| Ok(Some(existing(Strategy::Oidc))));
        let (service, uow) = service(tx);
        let error = service
            .update(
                &actor(),
                existing(Strategy::Oidc).id,
                UpdateConnection {
                    strategy: Some("google".into()),
                    ..UpdateConnection::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            UpdateConnectionError::Invalid(ref v) if v[0].code == "strategy_immutable"
        ));
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn update_refuses_to_remove_a_required_discovery_url() {
        let mut tx = MockTx::new();
        tx.expect_find_connection()
            .returning(|_, _| Ok(Some(existing(Strategy::Auth0))));
        let (service, _) = service(tx);
        let error = service
            .update(
                &actor(),
                existing(Strategy::Auth0).id,
                UpdateConnection {
                    discovery_url: Some(None),
                    ..UpdateConnection::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            UpdateConnectionError::Invalid(ref v) if v[0].code == "discovery_url_required"
        ));
    }

    #[tokio::test]
    async fn update_encrypts_a_new_secret_and_emits_the_event_without_it() {
        let mut tx = MockTx::new();
        tx.expect_find_connection()
            .returning(|_, _| Ok(Some(existing(Strategy::Oidc))));
        tx.expect_update_connection()
            .withf(|c| {
                let sealed = c.client_secret.as_ref().unwrap().as_bytes();
                sealed != b"rotated-secret"
                    && xor_cipher().decrypt(sealed).unwrap().expose_secret() == b"rotated-secret"
                    && c.enforce_sso
                    && c.updated_at == now()
            })
            .times(1)
            .returning(|_| Ok(()));
        tx.expect_append_event()
            .withf(|e| e.event_type == "connection.updated" && !e.data.contains("rotated-secret"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, _) = service(tx);
        let updated = service
            .update(
                &actor(),
                existing(Strategy::Oidc).id,
                UpdateConnection {
                    strategy: Some("oidc".into()),
                    client_secret: Some(SecretString::from("rotated-secret")),
                    enforce_sso: Some(true),
                    ..UpdateConnection::default()
                },
            )
            .await
            .unwrap();
        assert!(updated.client_secret_set());
    }

    #[tokio::test]
    async fn update_and_delete_of_an_unknown_connection_are_not_found() {
        let mut tx = MockTx::new();
        tx.expect_find_connection().returning(|_, _| Ok(None));
        let (service, uow) = service(tx);
        let id = existing(Strategy::Google).id;
        assert!(matches!(
            service
                .update(&actor(), id, UpdateConnection::default())
                .await,
            Err(UpdateConnectionError::NotFound)
        ));
        assert!(matches!(
            service.delete(&actor(), id).await,
            Err(ConnectionLookupError::NotFound)
        ));
        assert!(matches!(
            service.get(&actor(), id).await,
            Err(ConnectionLookupError::NotFound)
        ));
        assert_eq!(uow.log().committed, 0);
    }

    #[tokio::test]
    async fn delete_removes_and_records_the_event() {
        let mut tx = MockTx::new();
        tx.expect_find_connection()
            .returning(|_, _| Ok(Some(existing(Strategy::Github))));
        tx.expect_delete_connection()
            .times(1)
            .returning(|_, _| Ok(true));
        tx.expect_append_event()
            .withf(|e| e.event_type == "connection.deleted" && e.data.contains("github"))
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = service(tx);
        service
            .delete(&actor(), existing(Strategy::Github).id)
            .await
            .unwrap();
        assert_eq!(uow.log().committed, 1);
    }
}
