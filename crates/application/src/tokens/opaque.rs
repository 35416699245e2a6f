//! Opaque access tokens (clients whose `token_format` is `opaque`),
//! introspection (RFC 7662) and revocation (RFC 7009).
//!
//! An opaque token is 256 random bits; the store keeps only its digest.
//! Every use reads the store, so a revoked token (or one whose client or
//! resource server was deleted) stops working at once, on every node.

use std::collections::HashSet;

use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::oauth::{Client, ResourceServer, SecretDigest};
use portcullis_domain::{AccessTokenId, EnvironmentId};
use portcullis_ports::crypto::TokenRejection;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::{AuthenticateError, DECOY_DIGEST, IssueTokenError, IssuedToken, TokenService};
use crate::environments::ResolvedEnvironment;
use crate::keys::KeyCacheError;
use crate::principal::{Actor, Principal};
use crate::representation;

/// A client authenticating at the introspection or revocation endpoint.
#[derive(Debug)]
pub struct ClientCredentials {
    /// Public `client_id`.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
}

/// Why an introspection was refused (an unknown token is not an error: it
/// is inactive).
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// The caller is not a confidential client of the environment, or its
    /// secret is wrong (`invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyCacheError),
}

/// Why a revocation was refused (an unknown token is not an error: RFC 7009
/// answers 200).
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// Client authentication failed (`invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// The token was issued to another client (`unauthorized_client`).
    #[error("the token was issued to another client")]
    NotYourToken,
    /// A JWT access token: self-contained, it cannot be revoked before it
    /// expires (`unsupported_token_type`).
    #[error("JWT access tokens cannot be revoked; they expire")]
    UnsupportedTokenType,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyCacheError),
}

/// The claims of an opaque token as introspection shows them (without
/// `active` and `token_type`, and without what an action added).
fn record_claims(record: &OpaqueToken, issuer: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    for (name, value) in [
        ("scope", json!(record.scopes.join(" "))),
        ("client_id", json!(record.client_id)),
        ("exp", json!(record.expires_at.unix_seconds())),
        ("iat", json!(record.issued_at.unix_seconds())),
        ("sub", json!(record.client_id)),
        ("aud", json!(record.audience)),
        ("iss", json!(issuer)),
        ("jti", json!(record.id.to_string())),
    ] {
        claims.insert(name.to_owned(), value);
    }
    claims
}

/// Whether `token` has the shape of a JWT (opaque tokens have no dots).
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.contains('.')
}

impl<U: UnitOfWork> TokenService<U> {
    /// Issues an opaque token for a checked client, resource server and scopes.
    pub(super) async fn issue_opaque(
        &self,
        environment: &ResolvedEnvironment,
        client: &Client,
        server: &ResourceServer,
        scopes: Vec<String>,
    ) -> Result<IssuedToken, IssueTokenError> {
        let token = self.ports.secrets.generate_secret();
        let now = self.ports.clock.now();
        let lifetime = server.token_lifetime.seconds();
        let scope = scopes.join(" ");
        let mut record = OpaqueToken {
            id: AccessTokenId::from_ulid(self.ports.ids.next_ulid()),
            environment_id: environment.environment.id,
            client: client.id,
            client_id: client.client_id.clone(),
            resource_server: server.id,
            audience: server.identifier.clone(),
            scopes,
            digest: self.ports.secrets.digest_secret(token.expose_secret()),
            issued_at: now,
            expires_at: now.plus_seconds(lifetime),
            revoked_at: None,
            custom_claims: None,
        };
        // The action sees the claims introspection will show, and what it
        // adds is kept with the token for introspection.
        let mut claims = record_claims(&record, &environment.issuer);
        let own: Vec<String> = claims.keys().cloned().collect();
        self.run_pre_token(
            environment.environment.id,
            client,
            server,
            &record.scopes,
            &mut claims,
        )
        .await?;
        claims.retain(|name, _| !own.contains(name));
        if !claims.is_empty() {
            record.custom_claims = Some(Value::Object(claims).to_string());
        }
        self.ports
            .store
            .transaction(move |tx| tx.insert_access_token(&record))
            .await?;
        Ok(IssuedToken {
            access_token: token.expose_secret().to_owned(),
            expires_in: lifetime,
            scope,
        })
    }

    /// The stored record of an opaque token string, if this environment issued it.
    async fn find_opaque(
        &self,
        environment: EnvironmentId,
        token: &str,
    ) -> Result<Option<OpaqueToken>, StoreError> {
        let digest = self.ports.secrets.digest_secret(token);
        self.ports
            .store
            .read(move |tx| tx.find_access_token(environment, &digest))
            .await
    }

    /// Authenticates a Management API call made with an opaque token.
    pub(super) async fn authenticate_opaque(
        &self,
        environment: &ResolvedEnvironment,
        token: &str,
    ) -> Result<Principal, AuthenticateError> {
        let env_id = environment.environment.id;
        let record = self
            .find_opaque(env_id, token)
            .await?
            .ok_or(TokenRejection::Inactive)?;
        if !record.is_active(self.ports.clock.now(), self.leeway_seconds) {
            return Err(TokenRejection::Inactive.into());
        }
        if record.audience != environment.management_audience {
            return Err(TokenRejection::Claim("aud").into());
        }
        let scopes: HashSet<String> = record.scopes.into_iter().collect();
        self.within_grant(
            environment,
            Principal::new(env_id, record.client_id, scopes),
        )
        .await
    }

    /// A confidential client of the environment whose secret matches; an
    /// unknown client costs the same digest comparison as a wrong secret.
    async fn authenticate_client(
        &self,
        environment: EnvironmentId,
        credentials: &ClientCredentials,
    ) -> Result<Option<Client>, StoreError> {
        let wanted = credentials.client_id.clone();
        let client = self
            .ports
            .store
            .read(move |tx| tx.find_client_by_client_id(environment, &wanted))
            .await?;
        let decoy = SecretDigest::new(DECOY_DIGEST.to_owned());
        let digest = client
            .as_ref()
            .and_then(|c| c.secret_digest.as_ref())
            .unwrap_or(&decoy);
        let secret_ok = self
            .ports
            .secrets
            .verify_secret(credentials.client_secret.expose_secret(), digest);
        Ok(client.filter(|c| c.secret_digest.is_some() && secret_ok))
    }

    /// The claims of a JWT this environment signed and that has not expired,
    /// whatever its audience (a resource server of the environment).
    async fn active_jwt_claims(
        &self,
        environment: &ResolvedEnvironment,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, KeyCacheError> {
        let env_id = environment.environment.id;
        let Ok(kid) = self.ports.jwt.token_kid(token) else {
            return Ok(None);
        };
        let keys = self.keys.keys_with(env_id, &kid).await?;
        let Some(verifier) = keys.verifier(&kid) else {
            return Ok(None);
        };
        let Ok(claims) = verifier.verify(token) else {
            return Ok(None);
        };
        let now = self.ports.clock.now().unix_seconds();
        Ok(self
            .check_claims(environment, &claims, now, None)
            .is_ok()
            .then_some(claims))
    }

    /// RFC 7662: the claims of an active token (JWT or opaque) issued by
    /// this environment, or `None` for any other token.
    ///
    /// # Errors
    /// [`IntrospectError`].
    pub async fn introspect(
        &self,
        environment: &ResolvedEnvironment,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<Option<Map<String, Value>>, IntrospectError> {
        let env_id = environment.environment.id;
        if self.authenticate_client(env_id, caller).await?.is_none() {
            return Err(IntrospectError::InvalidClient);
        }
        if looks_like_jwt(token) {
            let Some(mut claims) = self.active_jwt_claims(environment, token).await? else {
                return Ok(None);
            };
            let (Some(client_id), Some(audience)) = (
                claims.get("client_id").and_then(Value::as_str),
                claims.get("aud").and_then(Value::as_str),
            ) else {
                return Ok(None);
            };
            // A token outlives neither its client nor its grant, and reaches
            // no scope the grant lost.
            let Some(target) = self.live_target(env_id, client_id, audience).await? else {
                return Ok(None);
            };
            if let Some(Value::String(scope)) = claims.get_mut("scope") {
                *scope = scope
                    .split(' ')
                    .filter(|name| target.grant.allowed_scopes.iter().any(|a| a == name))
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            claims.insert("active".into(), json!(true));
            claims.insert("token_type".into(), json!("Bearer"));
            return Ok(Some(claims));
        }
        let Some(mut record) = self.find_opaque(env_id, token).await? else {
            return Ok(None);
        };
        if !record.is_active(self.ports.clock.now(), self.leeway_seconds) {
            return Ok(None);
        }
        let Some(target) = self
            .live_target(env_id, &record.client_id, &record.audience)
            .await?
        else {
            return Ok(None);
        };
        record
            .scopes
            .retain(|name| target.grant.allowed_scopes.contains(name));
        let mut claims = record_claims(&record, &environment.issuer);
        claims.insert("active".into(), json!(true));
        claims.insert("token_type".into(), json!("Bearer"));
        // What a pre_token action added, never over the server's own members.
        let custom = record
            .custom_claims
            .as_deref()
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
            .unwrap_or_default();
        for (name, value) in custom {
            claims.entry(name).or_insert(value);
        }
        Ok(Some(claims))
    }

    /// RFC 7009: revokes an opaque token of the calling client, recording
    /// `access_token.revoked`. An unknown or already revoked token is not an
    /// error.
    ///
    /// # Errors
    /// [`RevokeError`].
    pub async fn revoke(
        &self,
        environment: &ResolvedEnvironment,
        caller: &ClientCredentials,
        token: &str,
    ) -> Result<(), RevokeError> {
        let env_id = environment.environment.id;
        let client = self
            .authenticate_client(env_id, caller)
            .await?
            .ok_or(RevokeError::InvalidClient)?;
        if looks_like_jwt(token) {
            // Only a JWT this environment issued is worth telling apart.
            return match self.active_jwt_claims(environment, token).await? {
                Some(_) => Err(RevokeError::UnsupportedTokenType),
                None => Ok(()),
            };
        }
        let Some(record) = self.find_opaque(env_id, token).await? else {
            return Ok(());
        };
        if record.client != client.id {
            return Err(RevokeError::NotYourToken);
        }
        let now = self.ports.clock.now();
        let mut revoked = record.clone();
        revoked.revoked_at = Some(now);
        let event = self.ports.event(
            &Actor::client(env_id, &client.client_id),
            "access_token.revoked",
            &representation::access_token(&revoked),
        );
        self.ports
            .store
            .transaction(move |tx| {
                // Already revoked: nothing changes and no event is written.
                if tx.revoke_access_token(env_id, record.id, now)? {
                    tx.append_event(&event)?;
                }
                Ok::<_, RevokeError>(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use portcullis_domain::environment::{Environment, Slug};
    use portcullis_domain::oauth::{ClientType, GrantType, TokenFormat};
    use portcullis_domain::{ClientId, ResourceServerId, Timestamp};
    use portcullis_ports::crypto::MockJwtKeys;
    use portcullis_ports::testing::{InlineUow, MockTx};

    use super::*;
    use crate::client_memo::ClientMemo;
    use crate::environments::IssuerTemplate;
    use crate::keys::KeyCache;
    use crate::testing::{now, ports_with_jwt};

    fn env() -> ResolvedEnvironment {
        let issuer = IssuerTemplate {
            scheme: "http".into(),
            host: "localhost".into(),
            port: None,
        }
        .issuer("default");
        ResolvedEnvironment {
            environment: Environment {
                id: EnvironmentId::from_ulid(ulid::Ulid::from_parts(7, 7)),
                slug: Slug::parse("default").unwrap(),
                created_at: Timestamp::from_unix_micros(0).unwrap(),
            },
            management_audience: format!("{issuer}/api"),
            issuer,
        }
    }

    fn client(n: u128, client_id: &str) -> Client {
        Client {
            id: ClientId::from_ulid(ulid::Ulid::from_parts(2, n)),
            environment_id: env().environment.id,
            client_id: client_id.into(),
            name: client_id.into(),
            client_type: ClientType::Confidential,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            token_format: TokenFormat::Opaque,
            first_party: false,
            secret_digest: Some(SecretDigest::new(format!("digest-of:{client_id}-secret"))),
            created_at: now(),
            updated_at: now(),
        }
    }

    /// The token `opaque-token`, issued to `owner` for the Management API,
    /// expiring `expires_in` seconds from the mocked now.
    fn record(expires_in: i64, revoked: bool) -> OpaqueToken {
        let owner = client(1, "owner");
        OpaqueToken {
            id: AccessTokenId::from_ulid(ulid::Ulid::from_parts(3, 3)),
            environment_id: env().environment.id,
            client: owner.id,
            client_id: owner.client_id,
            resource_server: ResourceServerId::from_ulid(ulid::Ulid::from_parts(4, 4)),
            audience: env().management_audience,
            scopes: vec!["users:read".into()],
            digest: SecretDigest::new("digest-of:opaque-token".into()),
            issued_at: now().plus_seconds(expires_in - 3_600),
            expires_at: now().plus_seconds(expires_in),
            revoked_at: revoked.then(now),
            custom_claims: None,
        }
    }

    /// A store holding the clients `owner` and `other` and `token`, `owner`
    /// with a Management API grant of `users:read`.
    fn store(token: OpaqueToken) -> MockTx {
        store_granting(token, Some(&["users:read"]))
    }

    /// [`store`] with `owner`'s grant allowing `allowed`, or no grant.
    fn store_granting(token: OpaqueToken, allowed: Option<&[&str]>) -> MockTx {
        let mut tx = MockTx::new();
        let allowed: Option<Vec<String>> =
            allowed.map(|list| list.iter().map(|s| (*s).to_owned()).collect());
        tx.expect_find_client_with_grant()
            .returning(move |env_id, client_id, audience| {
                let Some(allowed) = allowed.clone() else {
                    return Ok(None);
                };
                if client_id != "owner" || audience != env().management_audience {
                    return Ok(None);
                }
                let owner = client(1, "owner");
                let server = ResourceServer {
                    id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(4, 4)),
                    environment_id: env_id,
                    name: "API".into(),
                    identifier: audience.to_owned(),
                    token_lifetime: portcullis_domain::oauth::TokenLifetime::DEFAULT,
                    system: true,
                    created_at: now(),
                    updated_at: now(),
                };
                let grant = portcullis_domain::oauth::ClientGrant {
                    id: portcullis_domain::ClientGrantId::from_ulid(ulid::Ulid::from_parts(5, 5)),
                    environment_id: env_id,
                    client_id: owner.id,
                    resource_server_id: server.id,
                    allowed_scopes: allowed,
                    created_at: now(),
                };
                Ok(Some((owner, server, grant)))
            });
        tx.expect_find_client_by_client_id().returning(|_, id| {
            Ok(match id {
                "owner" => Some(client(1, "owner")),
                "other" => Some(client(2, "other")),
                _ => None,
            })
        });
        tx.expect_find_access_token().returning(move |env, digest| {
            Ok((env == token.environment_id && digest == &token.digest).then(|| token.clone()))
        });
        tx
    }

    fn token_service(tx: MockTx) -> (TokenService<InlineUow>, InlineUow) {
        let uow = InlineUow::new(tx);
        let ports = ports_with_jwt(uow.clone(), MockJwtKeys::new());
        let keys = Arc::new(KeyCache::new(ports.clone(), 60));
        (
            TokenService::new(ports, keys, 30, Arc::new(ClientMemo::new(60))),
            uow,
        )
    }

    fn caller(client_id: &str, secret: &str) -> ClientCredentials {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(secret.to_owned()),
        }
    }

    #[tokio::test]
    async fn an_opaque_token_is_issued_as_random_bits_and_stored_as_their_digest() {
        let mut tx = MockTx::new();
        tx.expect_insert_access_token()
            .withf(|t| {
                t.digest.as_str() == "digest-of:generated-secret"
                    && t.client_id == "owner"
                    && t.scopes == ["users:read"]
                    && t.expires_at == now().plus_seconds(120)
                    && t.revoked_at.is_none()
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = token_service(tx);
        let server = ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(4, 4)),
            environment_id: env().environment.id,
            name: "API".into(),
            identifier: env().management_audience,
            token_lifetime: portcullis_domain::oauth::TokenLifetime::new(120).unwrap(),
            system: true,
            created_at: now(),
            updated_at: now(),
        };
        let issued = service
            .issue_opaque(
                &env(),
                &client(1, "owner"),
                &server,
                vec!["users:read".into()],
            )
            .await
            .unwrap();
        assert_eq!(issued.access_token, "generated-secret");
        assert_eq!(issued.expires_in, 120);
        assert_eq!(uow.log().committed, 1);
    }

    #[tokio::test]
    async fn expired_revoked_and_unknown_tokens_do_not_authenticate() {
        for (token, live) in [
            (record(60, false), true),
            (record(-29, false), true),
            (record(-31, false), false),
            (record(60, true), false),
        ] {
            let (service, _) = token_service(store(token.clone()));
            let outcome = service.authenticate(&env(), "opaque-token").await;
            assert_eq!(outcome.is_ok(), live, "{token:?}");
            if let Ok(principal) = outcome {
                assert_eq!(principal.client_id(), "owner");
                assert!(principal.has_scope("users:read"));
            }
        }
        let (service, _) = token_service(store(record(60, false)));
        assert!(matches!(
            service.authenticate(&env(), "another-token").await,
            Err(AuthenticateError::Rejected(TokenRejection::Inactive))
        ));
    }

    #[tokio::test]
    async fn a_token_reaches_no_further_than_its_clients_current_grant() {
        let mut token = record(60, false);
        token.scopes = vec!["users:read".into(), "users:write".into()];
        let (narrowed, _) = token_service(store_granting(token.clone(), Some(&["users:write"])));
        let principal = narrowed.authenticate(&env(), "opaque-token").await.unwrap();
        assert!(principal.has_scope("users:write") && !principal.has_scope("users:read"));
        let claims = narrowed
            .introspect(&env(), &caller("other", "other-secret"), "opaque-token")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claims["scope"], "users:write");

        let (withdrawn, _) = token_service(store_granting(token, None));
        assert!(matches!(
            withdrawn.authenticate(&env(), "opaque-token").await,
            Err(AuthenticateError::Rejected(TokenRejection::Withdrawn))
        ));
        let claims = withdrawn
            .introspect(&env(), &caller("other", "other-secret"), "opaque-token")
            .await
            .unwrap();
        assert_eq!(claims, None);
    }

    #[tokio::test]
    async fn a_token_for_another_audience_does_not_authenticate_on_the_api() {
        let mut token = record(60, false);
        token.audience = "https://orders.example".into();
        let (service, _) = token_service(store(token));
        assert!(matches!(
            service.authenticate(&env(), "opaque-token").await,
            Err(AuthenticateError::Rejected(TokenRejection::Claim("aud")))
        ));
    }

    #[tokio::test]
    async fn introspection_needs_a_confidential_caller_and_hides_inactive_tokens() {
        let (service, _) = token_service(store(record(60, false)));
        let claims = service
            .introspect(&env(), &caller("other", "other-secret"), "opaque-token")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claims["active"], true);
        assert_eq!(claims["client_id"], "owner");
        assert_eq!(claims["exp"], now().unix_seconds() + 60);
        assert!(matches!(
            service
                .introspect(&env(), &caller("other", "wrong"), "opaque-token")
                .await,
            Err(IntrospectError::InvalidClient)
        ));
        assert!(matches!(
            service
                .introspect(&env(), &caller("ghost", "ghost-secret"), "opaque-token")
                .await,
            Err(IntrospectError::InvalidClient)
        ));
        let (revoked_service, _) = token_service(store(record(60, true)));
        let revoked = revoked_service
            .introspect(&env(), &caller("other", "other-secret"), "opaque-token")
            .await
            .unwrap();
        assert_eq!(revoked, None);
    }

    #[tokio::test]
    async fn only_the_owner_revokes_and_a_repeated_revocation_writes_nothing() {
        let mut tx = store(record(60, false));
        tx.expect_revoke_access_token()
            .times(1)
            .returning(|_, _, at| Ok(at == now()));
        tx.expect_append_event()
            .withf(|e| {
                e.event_type == "access_token.revoked"
                    && e.actor == "owner"
                    && !e.data.contains("opaque-token")
                    && !e.data.contains("digest")
            })
            .times(1)
            .returning(|_| Ok(()));
        let (service, uow) = token_service(tx);
        assert!(matches!(
            service
                .revoke(&env(), &caller("other", "other-secret"), "opaque-token")
                .await,
            Err(RevokeError::NotYourToken)
        ));
        service
            .revoke(&env(), &caller("owner", "owner-secret"), "opaque-token")
            .await
            .unwrap();
        service
            .revoke(&env(), &caller("owner", "owner-secret"), "unknown")
            .await
            .unwrap();
        assert_eq!(uow.log().committed, 1);

        let mut tx = store(record(60, true));
        tx.expect_revoke_access_token()
            .returning(|_, _, _| Ok(false));
        tx.expect_append_event().never();
        let (again, _) = token_service(tx);
        again
            .revoke(&env(), &caller("owner", "owner-secret"), "opaque-token")
            .await
            .unwrap();
    }
}
