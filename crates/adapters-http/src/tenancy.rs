//! Choosing the environment from the `Host` header, and authenticating the
//! bearer token of `/api` calls against it.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use portcullis_application::environments::ResolvedEnvironment;
use portcullis_application::keys::KeyCacheError;
use portcullis_application::tokens::AuthenticateError;
use portcullis_application::{Actor, Principal};
use portcullis_domain::environment::DEFAULT_SLUG;
use portcullis_ports::store::UnitOfWork;

use crate::error::ApiError;
use crate::state::AppState;

/// The environment label a host selects: the default one for the base domain
/// itself, an IP address or `localhost`; `SLUG` for `SLUG.<base domain>`;
/// `None` for any other host.
#[must_use]
pub fn slug_for_host(host: &str, base_domain: &str) -> Option<String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("").to_owned()
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
            _ => host.clone(),
        }
    };
    let base = base_domain.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() || name == base || name == "localhost" || name.parse::<IpAddr>().is_ok() {
        return Some(DEFAULT_SLUG.to_owned());
    }
    let label = name.strip_suffix(&format!(".{base}"))?;
    (!label.is_empty() && !label.contains('.')).then(|| label.to_owned())
}

/// Resolves the request's environment; `404` when the host selects none.
///
/// # Errors
/// `404 environment_not_found`, or `503` when the store is down.
pub async fn environment<U: UnitOfWork>(
    request: &HttpRequest,
    state: &web::Data<AppState<U>>,
) -> Result<Arc<ResolvedEnvironment>, ApiError> {
    // The Host header itself (or the request target's authority): proxy
    // headers such as Forwarded do not choose the environment.
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let unknown = || {
        ApiError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            "environment_not_found",
            "Not found",
            format!("no environment is served at host `{host}`"),
        )
        .header_source("Host")
    };
    let slug = slug_for_host(&host, &state.base_domain).ok_or_else(unknown)?;
    state.environments.resolve(&slug).await?.ok_or_else(unknown)
}

/// Maps a failure to load keys: `503` when the store is down, `500` otherwise.
pub(crate) fn key_failure(error: KeyCacheError) -> ApiError {
    match error {
        KeyCacheError::Store(store) => store.into(),
        KeyCacheError::Crypto(crypto) => ApiError::internal(&crypto),
    }
}

/// The environment and the verified caller of an `/api` request.
#[derive(Debug)]
pub struct Caller {
    /// The environment the request addressed.
    pub environment: Arc<ResolvedEnvironment>,
    /// The verified token's holder.
    pub principal: Principal,
}

impl Caller {
    /// The proof of `scope` that services require; `403` without it.
    ///
    /// # Errors
    /// `403 insufficient_scope`.
    pub fn require(&self, scope: &str) -> Result<Actor, ApiError> {
        self.principal
            .require(scope)
            .map_err(|missing| ApiError::insufficient_scope(&missing.0))
    }

    /// The absolute URL of a path under this environment's issuer.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.environment.issuer)
    }
}

/// Resolves the environment, then verifies the bearer token against it.
///
/// # Errors
/// `404` for an unknown environment, `401` for a missing or refused token,
/// `503` when keys cannot be loaded because the store is down.
pub async fn authenticate<U: UnitOfWork>(
    request: &HttpRequest,
    state: &web::Data<AppState<U>>,
) -> Result<Caller, ApiError> {
    let environment = environment(request, state).await?;
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = match authorization.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ if authorization.is_empty() => {
            return Err(
                ApiError::unauthorized("a bearer token is required").header_source("Authorization")
            );
        }
        _ => {
            return Err(ApiError::unauthorized(
                "the Authorization header must be `Bearer <token>`",
            )
            .header_source("Authorization"));
        }
    };
    match state.tokens.authenticate(&environment, token).await {
        Ok(principal) => {
            if let Some(decision) = state
                .limits
                .api_client(environment.environment.slug.as_str(), principal.client_id())
            {
                crate::limits::note(request, &decision);
                if decision.refused() {
                    return Err(decision.api_error());
                }
            }
            Ok(Caller {
                environment,
                principal,
            })
        }
        Err(AuthenticateError::Rejected(reason)) => {
            tracing::debug!(reason = %reason, "bearer token rejected");
            Err(
                ApiError::unauthorized("the access token is invalid or expired")
                    .header_source("Authorization"),
            )
        }
        Err(AuthenticateError::Keys(error)) => Err(key_failure(error)),
        Err(AuthenticateError::Store(error)) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::slug_for_host;

    #[test]
    fn hosts_select_environments_by_their_first_label() {
        let base = "localhost";
        assert_eq!(
            slug_for_host("localhost:8080", base).as_deref(),
            Some("default")
        );
        assert_eq!(
            slug_for_host("127.0.0.1:8080", base).as_deref(),
            Some("default")
        );
        assert_eq!(
            slug_for_host("[::1]:8080", base).as_deref(),
            Some("default")
        );
        assert_eq!(
            slug_for_host("staging.localhost:8080", base).as_deref(),
            Some("staging")
        );
        assert_eq!(
            slug_for_host("Staging.LOCALHOST", base).as_deref(),
            Some("staging")
        );
        assert_eq!(slug_for_host("a.b.localhost", base), None);
        assert_eq!(slug_for_host("example.org", base), None);
        let base = "auth.example.com";
        assert_eq!(
            slug_for_host("acme.auth.example.com", base).as_deref(),
            Some("acme")
        );
        assert_eq!(
            slug_for_host("auth.example.com:443", base).as_deref(),
            Some("default")
        );
    }
}
