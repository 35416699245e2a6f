//! The token service: client-credentials access tokens (RFC 6749 §4.4,
//! RFC 8707 resource indicators, RFC 9068 JWTs), and the verification of
//! Management API bearer tokens.

use std::collections::HashSet;
use std::sync::Arc;

use portcullis_domain::oauth::{GrantType, ScopeNotGranted, TokenFormat};
use portcullis_ports::crypto::{CryptoError, TokenRejection};
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use crate::Ports;
use crate::environments::ResolvedEnvironment;
use crate::keys::{KeyCache, KeyCacheError};
use crate::principal::Principal;

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
    /// Opaque tokens arrive with the clients collection (`unsupported` for now).
    #[error("opaque access tokens are not issued yet")]
    OpaqueUnsupported,
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
}

/// Issues and verifies access tokens.
pub struct TokenService<U> {
    ports: Ports<U>,
    keys: Arc<KeyCache<U>>,
    leeway_seconds: i64,
}

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
    pub fn new(ports: Ports<U>, keys: Arc<KeyCache<U>>, leeway_seconds: i64) -> Self {
        Self {
            ports,
            keys,
            leeway_seconds,
        }
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
        let client_id = request.client_id.clone();
        let (client, target) = self
            .ports
            .store
            .read(move |tx| {
                let Some(client) = tx.find_client_by_client_id(env_id, &client_id)? else {
                    return Ok::<_, StoreError>((None, None));
                };
                let Some(server) = tx.find_resource_server_by_identifier(env_id, &audience)? else {
                    return Ok((Some(client), None));
                };
                let grant = tx.find_client_grant(env_id, client.id, server.id)?;
                Ok((Some(client), grant.map(|g| (server, g))))
            })
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
            return Err(IssueTokenError::OpaqueUnsupported);
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
        let kid = self.ports.jwt.token_kid(token)?;
        let keys = self.keys.keys(environment.environment.id).await?;
        let verifier = keys.verifier(&kid).ok_or(TokenRejection::UnknownKey)?;
        let claims = verifier.verify(token)?;
        let now = self.ports.clock.now().unix_seconds();
        self.check_claims(environment, &claims, now)?;
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
        Ok(Principal::new(
            environment.environment.id,
            client_id.to_owned(),
            scopes,
        ))
    }

    fn check_claims(
        &self,
        environment: &ResolvedEnvironment,
        claims: &Map<String, Value>,
        now: i64,
    ) -> Result<(), TokenRejection> {
        if claims.get("iss").and_then(Value::as_str) != Some(environment.issuer.as_str()) {
            return Err(TokenRejection::Claim("iss"));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == environment.management_audience,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|a| a.as_str() == Some(&environment.management_audience)),
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
