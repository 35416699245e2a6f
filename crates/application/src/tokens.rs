//! The token service: client-credentials access tokens (RFC 6749 §4.4,
//! RFC 8707 resource indicators, RFC 9068 JWTs), and the verification of
//! Management API bearer tokens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use portcullis_domain::EnvironmentId;
use portcullis_domain::oauth::{
    Client, ClientGrant, GrantType, ResourceServer, ScopeNotGranted, TokenFormat,
};
use portcullis_ports::crypto::{CryptoError, TokenRejection};
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::Ports;
use crate::action_runs::{ActionEngine, PreTokenError, PreTokenEvent};
use crate::client_memo::{ClientMemo, ClientTarget};
use crate::environments::ResolvedEnvironment;
use crate::keys::{EnvironmentKeys, KeyCache, KeyCacheError};
use crate::principal::Principal;

mod opaque;

pub use opaque::{ClientCredentials, IntrospectError, RevokeError};

/// A client-credentials token request whose shape the driving adapter checked.
#[derive(Debug)]
pub struct ClientCredentialsRequest {
    /// The authenticating client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: SecretString,
    /// Requested scopes, space-separated.
    pub scope: Option<String>,
    /// The resource server identifier (RFC 8707 `resource`, or Auth0's `audience`).
    pub resource: Option<String>,
}

/// A token issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The scopes it carries, space-separated.
    pub scope: String,
}

/// Why a token was not issued; the driving adapter maps these to RFC 6749 §5.2 codes.
#[derive(Debug, thiserror::Error)]
pub enum IssueTokenError {
    /// Unknown client or wrong secret (`invalid_client`).
    #[error("client authentication failed")]
    InvalidClient,
    /// The client may not use client credentials (`unauthorized_client`).
    #[error("the client is not allowed the client_credentials grant")]
    UnauthorizedClient,
    /// Unknown resource server, or no grant for it (`invalid_target`).
    #[error("the client has no grant for the requested resource")]
    InvalidTarget,
    /// A requested scope is not granted (`invalid_scope`).
    #[error(transparent)]
    InvalidScope(#[from] ScopeNotGranted),
    /// The environment has no primary signing key.
    #[error("no primary signing key")]
    NoSigningKey,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys could not be loaded.
    #[error(transparent)]
    Keys(#[from] KeyCacheError),
    /// Signing failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The `pre_token` action refused the token (`access_denied`), with its message.
    #[error("the pre_token action refused the token: {0}")]
    AccessDenied(String),
    /// The `pre_token` action crashed, hit a limit or returned something
    /// unusable (`server_error`); the reason is in its execution record.
    #[error("{0}")]
    ActionFailed(String),
}

impl From<PreTokenError> for IssueTokenError {
    fn from(error: PreTokenError) -> Self {
        match error {
            PreTokenError::Denied(message) => Self::AccessDenied(message),
            failed @ PreTokenError::Failed(_) => Self::ActionFailed(failed.to_string()),
            PreTokenError::Store(store) => Self::Store(store),
        }
    }
}

/// Why a bearer token did not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The token is refused (`401`).
    #[error(transparent)]
    Rejected(#[from] TokenRejection),
    /// Keys could not be loaded (the store is down).
    #[error(transparent)]
    Keys(#[from] KeyCacheError),
    /// An opaque token could not be looked up (the store is down).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Issues and verifies access tokens.
pub struct TokenService<U> {
    ports: Ports<U>,
    keys: Arc<KeyCache<U>>,
    leeway_seconds: i64,
    verified: RwLock<HashMap<(EnvironmentId, Box<str>), Verified>>,
    clients: Arc<ClientMemo>,
    actions: Option<Arc<ActionEngine<U>>>,
}

/// A token whose signature and claims were checked, with the key set it was
/// checked against: when that set is replaced (a key changed, or the cache
/// entry expired), the token is verified again.
struct Verified {
    principal: Principal,
    expires_at: i64,
    keys: Arc<EnvironmentKeys>,
}

/// Verified tokens remembered at most; the memo is emptied when full.
const VERIFIED_CAPACITY: usize = 10_000;

impl<U> std::fmt::Debug for TokenService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("leeway_seconds", &self.leeway_seconds)
            .finish_non_exhaustive()
    }
}

/// A digest compared against when the client does not exist, so that an
/// unknown client costs the same as a wrong secret.
const DECOY_DIGEST: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl<U: UnitOfWork> TokenService<U> {
    /// A service verifying `exp` with `leeway_seconds` of tolerance.
    ///
    /// A client found with its grant is remembered in `clients`, so that
    /// issuing a token reads no store on the hot path; its secret is still
    /// checked on every request. Use cases that change clients, grants,
    /// resource servers or scopes share the memo and call
    /// [`ClientMemo::forget`].
    pub fn new(
        ports: Ports<U>,
        keys: Arc<KeyCache<U>>,
        leeway_seconds: i64,
        clients: Arc<ClientMemo>,
    ) -> Self {
        Self {
            ports,
            keys,
            leeway_seconds,
            verified: RwLock::default(),
            clients,
            actions: None,
        }
    }

    /// Runs the environment's `pre_token` action (when it has an enabled
    /// one) on every token issued.
    #[must_use]
    pub fn with_actions(mut self, actions: Arc<ActionEngine<U>>) -> Self {
        self.actions = Some(actions);
        self
    }

    /// Lets the `pre_token` action see and extend `claims`.
    async fn run_pre_token(
        &self,
        environment: EnvironmentId,
        client: &Client,
        server: &ResourceServer,
        scopes: &[String],
        claims: &mut Map<String, Value>,
    ) -> Result<(), IssueTokenError> {
        let Some(actions) = &self.actions else {
            return Ok(());
        };
        let event = PreTokenEvent {
            client: json!({
                "id": client.id.to_string(),
                "client_id": client.client_id,
                "name": client.name,
            }),
            resource_server: json!({
                "id": server.id.to_string(),
                "identifier": server.identifier,
            }),
            scopes: scopes.to_vec(),
        };
        Ok(actions.pre_token(environment, event, claims).await?)
    }

    /// Forgets the remembered clients and grants of an environment.
    pub fn forget_clients(&self, environment: EnvironmentId) {
        self.clients.forget(environment);
    }

    /// The client with its current grant for `audience`, from the memo (the
    /// store is read on a miss only); `None` when the client or the grant no
    /// longer exists.
    async fn live_target(
        &self,
        env_id: EnvironmentId,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<Arc<ClientTarget>>, StoreError> {
        let now = self.ports.clock.now();
        if let Some(hit) = self.clients.get(env_id, client_id, audience, now) {
            return Ok(Some(hit));
        }
        let generation = self.clients.generation();
        let (wanted_client, wanted_audience) = (client_id.to_owned(), audience.to_owned());
        let found = self
            .ports
            .store
            .read(move |tx| tx.find_client_with_grant(env_id, &wanted_client, &wanted_audience))
            .await?;
        Ok(found.map(|(client, server, grant)| {
            self.clients.remember(
                generation,
                ClientTarget {
                    client,
                    server,
                    grant,
                },
                now,
            )
        }))
    }

    async fn client_and_target(
        &self,
        env_id: EnvironmentId,
        client_id: &str,
        audience: &str,
    ) -> Result<(Option<Client>, Option<(ResourceServer, ClientGrant)>), StoreError> {
        // One query on the happy path; the client alone when it has no grant there.
        if let Some(target) = self.live_target(env_id, client_id, audience).await? {
            return Ok((
                Some(target.client.clone()),
                Some((target.server.clone(), target.grant.clone())),
            ));
        }
        let wanted_client = client_id.to_owned();
        let client = self
            .ports
            .store
            .read(move |tx| tx.find_client_by_client_id(env_id, &wanted_client))
            .await?;
        Ok((client, None))
    }

    /// `principal` limited to what its client's Management API grant allows
    /// now: refused when the client or the grant is gone, narrowed when the
    /// grant was. The memo (forgotten on every change, on every node) keeps
    /// this off the store.
    async fn within_grant(
        &self,
        environment: &ResolvedEnvironment,
        principal: Principal,
    ) -> Result<Principal, AuthenticateError> {
        let target = self
            .live_target(
                environment.environment.id,
                principal.client_id(),
                &environment.management_audience,
            )
            .await?
            .ok_or(TokenRejection::Withdrawn)?;
        Ok(principal.within(&target.grant.allowed_scopes))
    }

    /// Issues a client-credentials access token.
    ///
    /// # Errors
    /// [`IssueTokenError`].
    pub async fn issue(
        &self,
        environment: &ResolvedEnvironment,
        request: ClientCredentialsRequest,
    ) -> Result<IssuedToken, IssueTokenError> {
        let env_id = environment.environment.id;
        let audience = request
            .resource
            .clone()
            .unwrap_or_else(|| environment.management_audience.clone());
        let (client, target) = self
            .client_and_target(env_id, &request.client_id, &audience)
            .await?;

        let secret = request.client_secret.expose_secret();
        let decoy = portcullis_domain::oauth::SecretDigest::new(DECOY_DIGEST.to_owned());
        let digest = client
            .as_ref()
            .and_then(|c| c.secret_digest.as_ref())
            .unwrap_or(&decoy);
        let secret_ok = self.ports.secrets.verify_secret(secret, digest);
        let client = client
            .filter(|c| c.secret_digest.is_some() && secret_ok)
            .ok_or(IssueTokenError::InvalidClient)?;
        if !client.may_use(GrantType::ClientCredentials) {
            return Err(IssueTokenError::UnauthorizedClient);
        }
        let (server, grant) = target.ok_or(IssueTokenError::InvalidTarget)?;
        let scopes = grant.narrow(request.scope.as_deref())?;
        if client.token_format == TokenFormat::Opaque {
            return self
                .issue_opaque(environment, &client, &server, scopes)
                .await;
        }

        let keys = self.keys.keys(env_id).await?;
        let signer = keys.primary().ok_or(IssueTokenError::NoSigningKey)?;
        let now = self.ports.clock.now();
        let lifetime = server.token_lifetime.seconds();
        let scope = scopes.join(" ");
        let mut claims = Map::new();
        for (name, value) in [
            ("iss", json!(environment.issuer)),
            ("sub", json!(client.client_id)),
            ("aud", json!(server.identifier)),
            ("client_id", json!(client.client_id)),
            ("scope", json!(scope)),
            ("iat", json!(now.unix_seconds())),
            ("exp", json!(now.unix_seconds() + lifetime)),
            ("jti", json!(self.ports.ids.next_ulid().to_string())),
        ] {
            claims.insert(name.to_owned(), value);
        }
        self.run_pre_token(env_id, &client, &server, &scopes, &mut claims)
            .await?;
        let access_token = signer.sign(claims).await?;
        Ok(IssuedToken {
            access_token,
            expires_in: lifetime,
            scope,
        })
    }

    /// Verifies a Management API bearer token of `environment`: RS256 only,
    /// a key of this environment's JWKS, this issuer, this Management API
    /// audience, not expired.
    ///
    /// # Errors
    /// [`AuthenticateError::Rejected`] for every refused token.
    pub async fn authenticate(
        &self,
        environment: &ResolvedEnvironment,
        token: &str,
    ) -> Result<Principal, AuthenticateError> {
        if !opaque::looks_like_jwt(token) {
            return self.authenticate_opaque(environment, token).await;
        }
        let env_id = environment.environment.id;
        let now = self.ports.clock.now().unix_seconds();
        let current = self.keys.keys(env_id).await?;
        let memo_key = (env_id, Box::<str>::from(token));
        let remembered = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&memo_key)
            // Same token, same key set: the signature and the claims other
            // than time were already checked.
            .filter(|hit| Arc::ptr_eq(&hit.keys, &current))
            .map(|hit| (hit.principal.clone(), hit.expires_at));
        if let Some((principal, expires_at)) = remembered {
            if now > expires_at + self.leeway_seconds {
                return Err(TokenRejection::Claim("exp").into());
            }
            return self.within_grant(environment, principal).await;
        }

        let kid = self.ports.jwt.token_kid(token)?;
        let keys = if current.verifier(&kid).is_some() {
            current
        } else {
            self.keys.keys_with(env_id, &kid).await?
        };
        let verifier = keys.verifier(&kid).ok_or(TokenRejection::UnknownKey)?;
        let claims = verifier.verify(token)?;
        self.check_claims(
            environment,
            &claims,
            now,
            Some(&environment.management_audience),
        )?;
        let client_id = claims
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or(TokenRejection::Claim("client_id"))?;
        let scopes: HashSet<String> = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let principal = Principal::new(env_id, client_id.to_owned(), scopes);
        let expires_at = claims.get("exp").and_then(Value::as_i64).unwrap_or(now);
        {
            let mut memo = self
                .verified
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if memo.len() >= VERIFIED_CAPACITY {
                memo.clear();
            }
            memo.insert(
                memo_key,
                Verified {
                    principal: principal.clone(),
                    expires_at,
                    keys,
                },
            );
        }
        self.within_grant(environment, principal).await
    }

    fn check_claims(
        &self,
        environment: &ResolvedEnvironment,
        claims: &Map<String, Value>,
        now: i64,
        audience: Option<&str>,
    ) -> Result<(), TokenRejection> {
        if claims.get("iss").and_then(Value::as_str) != Some(environment.issuer.as_str()) {
            return Err(TokenRejection::Claim("iss"));
        }
        let audience_ok = match (audience, claims.get("aud")) {
            (None, Some(_)) => true,
            (Some(wanted), Some(Value::String(aud))) => aud == wanted,
            (Some(wanted), Some(Value::Array(auds))) => {
                auds.iter().any(|a| a.as_str() == Some(wanted))
            }
            _ => false,
        };
        if !audience_ok {
            return Err(TokenRejection::Claim("aud"));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenRejection::Claim("exp"))?;
        if now > exp + self.leeway_seconds {
            return Err(TokenRejection::Claim("exp"));
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = nbf.as_i64().ok_or(TokenRejection::Claim("nbf"))?;
            if nbf > now + self.leeway_seconds {
                return Err(TokenRejection::Claim("nbf"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environments::{IssuerTemplate, ResolvedEnvironment};
    use crate::testing::{NOW_MICROS, ports_with_jwt};
    use portcullis_domain::environment::{Environment, Slug};
    use portcullis_domain::oauth::{
        Client, ClientGrant, ClientType, ResourceServer, SecretDigest, TokenLifetime,
    };
    use portcullis_domain::signing_key::{EncryptedPrivateKey, KeyStatus, SigningKey};
    use portcullis_domain::{
        ClientGrantId, ClientId, EnvironmentId, ResourceServerId, SigningKeyId, Timestamp,
    };
    use portcullis_ports::crypto::{MockJwtKeys, MockJwtSigner, MockJwtVerifier};
    use portcullis_ports::testing::{InlineUow, MockTx};
    use std::sync::Mutex;

    const NOW: i64 = NOW_MICROS / 1_000_000;

    fn env() -> ResolvedEnvironment {
        let issuer = IssuerTemplate {
            scheme: "http".into(),
            host: "localhost".into(),
            port: Some(8080),
        }
        .issuer("acme");
        ResolvedEnvironment {
            environment: Environment {
                id: EnvironmentId::from_ulid(ulid::Ulid::from_parts(7, 7)),
                slug: Slug::parse("acme").unwrap(),
                created_at: Timestamp::from_unix_micros(0).unwrap(),
            },
            management_audience: format!("{issuer}/api"),
            issuer,
        }
    }

    fn client(client_type: ClientType) -> Client {
        Client {
            id: ClientId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            environment_id: env().environment.id,
            client_id: "machine".into(),
            name: "Machine".into(),
            client_type,
            grant_types: vec![GrantType::ClientCredentials],
            redirect_uris: vec![],
            token_format: TokenFormat::Jwt,
            first_party: true,
            secret_digest: Some(SecretDigest::new("digest-of:s3cret".into())),
            created_at: Timestamp::from_unix_micros(0).unwrap(),
            updated_at: Timestamp::from_unix_micros(0).unwrap(),
        }
    }

    fn server() -> ResourceServer {
        ResourceServer {
            id: ResourceServerId::from_ulid(ulid::Ulid::from_parts(3, 3)),
            environment_id: env().environment.id,
            name: "Management API".into(),
            identifier: env().management_audience,
            token_lifetime: TokenLifetime::new(600).unwrap(),
            system: true,
            created_at: Timestamp::from_unix_micros(0).unwrap(),
            updated_at: Timestamp::from_unix_micros(0).unwrap(),
        }
    }

    fn grant() -> ClientGrant {
        ClientGrant {
            id: ClientGrantId::from_ulid(ulid::Ulid::from_parts(4, 4)),
            environment_id: env().environment.id,
            client_id: client(ClientType::Confidential).id,
            resource_server_id: server().id,
            allowed_scopes: vec!["users:read".into(), "users:write".into()],
            created_at: Timestamp::from_unix_micros(0).unwrap(),
        }
    }

    fn primary_key() -> SigningKey {
        SigningKey {
            id: SigningKeyId::from_ulid(ulid::Ulid::from_parts(5, 5)),
            environment_id: env().environment.id,
            kid: "kid-1".into(),
            status: KeyStatus::Active,
            primary: true,
            public_jwk: "{}".into(),
            private_key: EncryptedPrivateKey::new(b"pem".to_vec()),
            created_at: Timestamp::from_unix_micros(0).unwrap(),
            deactivated_at: None,
        }
    }

    /// A store holding one client (of `client_type`), the Management API and a grant.
    fn store(client_type: ClientType) -> MockTx {
        let mut tx = MockTx::new();
        tx.expect_find_client_by_client_id()
            .returning(move |_, id| Ok((id == "machine").then(|| client(client_type))));
        tx.expect_find_client_with_grant()
            .returning(move |_, id, identifier| {
                Ok((id == "machine" && identifier == server().identifier)
                    .then(|| (client(client_type), server(), grant())))
            });
        tx.expect_list_active_signing_keys()
            .returning(|_| Ok(vec![primary_key()]));
        tx
    }

    /// JWT keys whose signer records the claims it signs and whose verifier returns `claims`.
    fn jwt(
        signed: Arc<Mutex<Option<Map<String, Value>>>>,
        claims: Map<String, Value>,
    ) -> MockJwtKeys {
        let mut jwt = MockJwtKeys::new();
        jwt.expect_signer().returning(move |_, _| {
            let mut signer = MockJwtSigner::new();
            let signed = Arc::clone(&signed);
            signer.expect_sign().returning(move |claims| {
                *signed.lock().unwrap() = Some(claims);
                Ok("header.payload.signature".into())
            });
            Ok(Arc::new(signer))
        });
        jwt.expect_verifier().returning(move |_| {
            let mut verifier = MockJwtVerifier::new();
            let claims = claims.clone();
            verifier
                .expect_verify()
                .returning(move |_| Ok(claims.clone()));
            Ok(Arc::new(verifier))
        });
        jwt.expect_token_kid().returning(|t| {
            if t.starts_with("known") {
                Ok("kid-1".into())
            } else {
                Ok("other".into())
            }
        });
        jwt
    }

    fn service(tx: MockTx, jwt: MockJwtKeys) -> TokenService<InlineUow> {
        let ports = ports_with_jwt(InlineUow::new(tx), jwt);
        let keys = Arc::new(KeyCache::new(ports.clone(), 60));
        TokenService::new(ports, keys, 30, Arc::new(ClientMemo::new(60)))
    }

    fn request(
        client_id: &str,
        secret: &str,
        scope: Option<&str>,
        resource: Option<&str>,
    ) -> ClientCredentialsRequest {
        ClientCredentialsRequest {
            client_id: client_id.into(),
            client_secret: SecretString::from(secret),
            scope: scope.map(Into::into),
            resource: resource.map(Into::into),
        }
    }

    #[tokio::test]
    async fn issues_an_rfc9068_token_for_the_management_api_by_default() {
        let signed = Arc::new(Mutex::new(None));
        let service = service(
            store(ClientType::Confidential),
            jwt(Arc::clone(&signed), Map::new()),
        );

        let token = service
            .issue(
                &env(),
                request("machine", "s3cret", Some("users:read"), None),
            )
            .await
            .unwrap();

        assert_eq!(
            token,
            IssuedToken {
                access_token: "header.payload.signature".into(),
                expires_in: 600,
                scope: "users:read".into()
            }
        );
        let claims = signed.lock().unwrap().take().unwrap();
        assert_eq!(claims["iss"], "http://acme.localhost:8080");
        assert_eq!(claims["aud"], "http://acme.localhost:8080/api");
        assert_eq!(claims["sub"], "machine");
        assert_eq!(claims["client_id"], "machine");
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 600);
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() == 26));
    }

    #[tokio::test]
    async fn no_scope_asked_means_every_granted_scope() {
        let service = service(
            store(ClientType::Confidential),
            jwt(Arc::default(), Map::new()),
        );
        let token = service
            .issue(&env(), request("machine", "s3cret", None, None))
            .await
            .unwrap();
        assert_eq!(token.scope, "users:read users:write");
    }

    #[tokio::test]
    async fn refusals_follow_rfc6749_and_rfc8707() {
        let service = service(
            store(ClientType::Confidential),
            jwt(Arc::default(), Map::new()),
        );
        let e = env();
        assert!(matches!(
            service
                .issue(&e, request("nobody", "s3cret", None, None))
                .await,
            Err(IssueTokenError::InvalidClient)
        ));
        assert!(matches!(
            service
                .issue(&e, request("machine", "wrong", None, None))
                .await,
            Err(IssueTokenError::InvalidClient)
        ));
        assert!(matches!(
            service
                .issue(
                    &e,
                    request("machine", "s3cret", None, Some("https://other.example/api"))
                )
                .await,
            Err(IssueTokenError::InvalidTarget)
        ));
        assert!(matches!(
            service.issue(&e, request("machine", "s3cret", Some("users:read users:delete"), None)).await,
            Err(IssueTokenError::InvalidScope(ScopeNotGranted(s))) if s == "users:delete"
        ));
        let public = self::service(store(ClientType::Public), jwt(Arc::default(), Map::new()));
        assert!(matches!(
            public
                .issue(&e, request("machine", "s3cret", None, None))
                .await,
            Err(IssueTokenError::UnauthorizedClient)
        ));
    }

    fn claims(iss: &str, aud: Value, exp: i64) -> Map<String, Value> {
        let Value::Object(map) = json!({"iss": iss, "aud": aud, "exp": exp, "client_id": "machine", "scope": "users:read roles:read"})
        else {
            unreachable!()
        };
        map
    }

    /// The token says `users:read roles:read`; the client's grant now allows
    /// `users:read users:write`: the principal holds only what both allow.
    #[tokio::test]
    async fn a_valid_token_yields_a_principal_with_its_scopes_within_its_grant() {
        let e = env();
        let service = service(
            store(ClientType::Confidential),
            jwt(
                Arc::default(),
                claims(&e.issuer, json!(e.management_audience), NOW + 60),
            ),
        );
        let principal = service.authenticate(&e, "known.token").await.unwrap();
        assert_eq!(principal.client_id(), "machine");
        assert!(principal.has_scope("users:read"));
        assert!(!principal.has_scope("roles:read"), "no longer granted");
        assert!(!principal.has_scope("users:write"), "not in the token");

        let mut gone = MockTx::new();
        gone.expect_list_active_signing_keys()
            .returning(|_| Ok(vec![primary_key()]));
        gone.expect_find_client_with_grant()
            .returning(|_, _, _| Ok(None));
        let withdrawn = self::service(
            gone,
            jwt(
                Arc::default(),
                claims(&e.issuer, json!(e.management_audience), NOW + 60),
            ),
        );
        assert!(matches!(
            withdrawn.authenticate(&e, "known.token").await,
            Err(AuthenticateError::Rejected(TokenRejection::Withdrawn))
        ));
    }

    #[tokio::test]
    async fn tokens_of_another_issuer_audience_or_time_are_rejected() {
        let e = env();
        let cases = [
            (
                claims(
                    "http://localhost:8080",
                    json!(e.management_audience),
                    NOW + 60,
                ),
                TokenRejection::Claim("iss"),
            ),
            (
                claims(&e.issuer, json!("https://api.example"), NOW + 60),
                TokenRejection::Claim("aud"),
            ),
            (
                claims(&e.issuer, json!([]), NOW + 60),
                TokenRejection::Claim("aud"),
            ),
            (
                claims(&e.issuer, json!(e.management_audience), NOW - 31),
                TokenRejection::Claim("exp"),
            ),
        ];
        for (claims, expected) in cases {
            let service = service(store(ClientType::Confidential), jwt(Arc::default(), claims));
            match service.authenticate(&e, "known.token").await {
                Err(AuthenticateError::Rejected(rejection)) => assert_eq!(rejection, expected),
                other => panic!("expected {expected:?}, got {other:?}"),
            }
        }
        let within_leeway = service(
            store(ClientType::Confidential),
            jwt(
                Arc::default(),
                claims(&e.issuer, json!([e.management_audience]), NOW - 29),
            ),
        );
        assert!(within_leeway.authenticate(&e, "known.token").await.is_ok());
    }

    #[tokio::test]
    async fn a_verified_token_is_remembered_until_it_expires_or_the_keys_change() {
        use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
        let e = env();
        let verifications = Arc::new(AtomicUsize::new(0));
        let mut jwt = jwt(Arc::default(), Map::new());
        jwt.checkpoint();
        let counted = Arc::clone(&verifications);
        let good = claims(&e.issuer, json!(e.management_audience), NOW + 60);
        jwt.expect_verifier().returning(move |_| {
            let mut verifier = MockJwtVerifier::new();
            let (counted, good) = (Arc::clone(&counted), good.clone());
            verifier.expect_verify().returning(move |_| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(good.clone())
            });
            Ok(Arc::new(verifier))
        });
        jwt.expect_signer()
            .returning(|_, _| Ok(Arc::new(MockJwtSigner::new())));
        jwt.expect_token_kid().returning(|_| Ok("kid-1".into()));
        let mut ports = ports_with_jwt(InlineUow::new(store(ClientType::Confidential)), jwt);
        let now = Arc::new(AtomicI64::new(NOW_MICROS));
        let mut clock = portcullis_ports::MockClock::new();
        let reading = Arc::clone(&now);
        clock.expect_now().returning(move || {
            Timestamp::from_unix_micros(reading.load(Ordering::SeqCst)).unwrap()
        });
        ports.clock = Arc::new(clock);
        let keys = Arc::new(KeyCache::new(ports.clone(), 3_600));
        let service =
            TokenService::new(ports, Arc::clone(&keys), 30, Arc::new(ClientMemo::new(60)));

        for _ in 0..3 {
            assert_eq!(
                service
                    .authenticate(&e, "known.token")
                    .await
                    .unwrap()
                    .client_id(),
                "machine"
            );
        }
        assert_eq!(
            verifications.load(Ordering::SeqCst),
            1,
            "verified once, then remembered"
        );

        keys.invalidate(e.environment.id);
        service.authenticate(&e, "known.token").await.unwrap();
        assert_eq!(
            verifications.load(Ordering::SeqCst),
            2,
            "a key change forgets what was verified"
        );

        now.fetch_add(91 * 1_000_000, Ordering::SeqCst);
        assert!(matches!(
            service.authenticate(&e, "known.token").await,
            Err(AuthenticateError::Rejected(TokenRejection::Claim("exp")))
        ));
        assert_eq!(
            verifications.load(Ordering::SeqCst),
            2,
            "expiry is enforced on a remembered token"
        );
    }

    #[tokio::test]
    async fn a_client_with_its_grant_is_remembered_but_its_secret_checked_every_time() {
        let uow = InlineUow::new(store(ClientType::Confidential));
        let ports = ports_with_jwt(uow.clone(), jwt(Arc::default(), Map::new()));
        let keys = Arc::new(KeyCache::new(ports.clone(), 60));
        let service = TokenService::new(ports, keys, 30, Arc::new(ClientMemo::new(60)));
        let e = env();

        for _ in 0..3 {
            service
                .issue(&e, request("machine", "s3cret", None, None))
                .await
                .unwrap();
        }
        assert_eq!(
            uow.log().reads,
            2,
            "one read for the client, one for the keys"
        );
        assert!(matches!(
            service
                .issue(&e, request("machine", "wrong", None, None))
                .await,
            Err(IssueTokenError::InvalidClient)
        ));

        service.forget_clients(e.environment.id);
        service
            .issue(&e, request("machine", "s3cret", None, None))
            .await
            .unwrap();
        assert_eq!(uow.log().reads, 3, "forgotten clients are read again");
    }

    #[tokio::test]
    async fn an_unknown_kid_is_rejected() {
        let e = env();
        let service = service(
            store(ClientType::Confidential),
            jwt(Arc::default(), Map::new()),
        );
        assert!(matches!(
            service.authenticate(&e, "unknown.token").await,
            Err(AuthenticateError::Rejected(TokenRejection::UnknownKey))
        ));
    }
}
