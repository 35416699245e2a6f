//! The OAuth endpoints of an environment: `POST /oauth/token` (client
//! credentials), the JWK Set and the discovery document. Token errors are
//! RFC 6749 §5.2 JSON, not JSON:API.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use std::collections::HashMap;

use portcullis_application::tokens::{
    ClientCredentials, ClientCredentialsRequest, IntrospectError, IssueTokenError, RevokeError,
};
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::SecretString;
use serde_json::json;

use portcullis_application::keys::KeyCacheError;

use crate::error::ApiError;
use crate::state::AppState;
use crate::tenancy::{environment, key_failure};

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    fn invalid_client() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: "client authentication failed".into(),
        }
    }

    fn server(status: StatusCode, code: &'static str) -> Self {
        Self {
            status,
            code,
            description: "the server could not issue a token; retry later".into(),
        }
    }

    /// `429`: a rate limit refused the request (its header fields are
    /// added by [`crate::limits::rate_limit_headers`]).
    fn rate_limited(decision: &crate::limits::Decision) -> Self {
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "rate_limited",
            description: decision.description(),
        }
    }

    fn response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .insert_header((header::CONTENT_TYPE, "application/json"));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6749 §5.2 asks for the challenge when Basic was used; HTTP
            // asks for one on every 401, and Basic is the scheme this endpoint takes.
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"oauth\""));
        }
        response
            .body(json!({ "error": self.code, "error_description": self.description }).to_string())
    }
}

fn store_failure(error: &StoreError) -> OAuthError {
    match error {
        // The client or the resource server was deleted while the request ran.
        StoreError::MissingReference => OAuthError::invalid_client(),
        StoreError::Unavailable(_) => {
            tracing::warn!(error = %error, "store unavailable");
            OAuthError::server(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
        }
        other => {
            let _ = ApiError::internal(other);
            OAuthError::server(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

/// Decodes an `application/x-www-form-urlencoded` component of a Basic
/// credential (RFC 6749 §2.3.1).
fn form_decode(raw: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={raw}"))
        .ok()
        .and_then(|mut pairs| pairs.pop())
        .map(|(_, value)| value)
}

fn basic_credentials(request: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = OAuthError::invalid_client;
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::new(
            "invalid_request",
            "only HTTP Basic client authentication is accepted in the Authorization header",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let (id, secret) = (
        form_decode(id).ok_or_else(malformed)?,
        form_decode(secret).ok_or_else(malformed)?,
    );
    // As in the body (`form_pairs`): no client id or secret holds one, and
    // PostgreSQL cannot compare text holding NUL.
    if id.chars().chain(secret.chars()).any(char::is_control) {
        return Err(OAuthError {
            description: "the Basic credentials hold a control character".into(),
            ..OAuthError::invalid_client()
        });
    }
    Ok(Some((id, secret)))
}

/// `POST /oauth/token`.
pub async fn token<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    // Before any other work: the per-address limit guards the endpoint itself.
    if let Some(decision) = state.limits.token_address(&request) {
        crate::limits::note(&request, &decision);
        if decision.refused() {
            return Ok(token_outcome(Err(OAuthError::rate_limited(&decision))));
        }
    }
    let environment = environment(&request, &state).await?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    Ok(token_outcome(
        issue(&request, &body, &state, &environment).await,
    ))
}

/// Renders a token request's outcome and counts it
/// (`portcullis_token_requests_total{outcome}`: `issued` or the error code).
fn token_outcome(outcome: Result<HttpResponse, OAuthError>) -> HttpResponse {
    let (label, response) = match outcome {
        Ok(response) => ("issued", response),
        Err(error) => (error.code, error.response()),
    };
    metrics::counter!(crate::metrics::TOKEN_REQUESTS, "outcome" => label).increment(1);
    response
}

/// The parameters of an `application/x-www-form-urlencoded` body; a
/// repeated parameter is refused (`repeated_code` for `resource`).
fn form_params<'a>(
    request: &HttpRequest,
    pairs: &'a [(String, String)],
) -> Result<HashMap<&'a str, &'a str>, OAuthError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let mut params = HashMap::new();
    for (name, value) in pairs {
        if params.insert(name.as_str(), value.as_str()).is_some() {
            let code = if name == "resource" {
                "invalid_target"
            } else {
                "invalid_request"
            };
            return Err(OAuthError::new(
                code,
                format!("parameter `{name}` is repeated"),
            ));
        }
    }
    Ok(params)
}

/// Decodes a form body, refusing a control character in any name or value
/// (`invalid_request` naming the parameter): no OAuth parameter holds one
/// (RFC 6749 Appendix A), and PostgreSQL cannot compare text holding NUL.
fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OAuthError::new("invalid_request", "the body is not valid form data"))?;
    for (name, value) in &pairs {
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return Err(OAuthError::new(
                "invalid_request",
                format!(
                    "a parameter name holds the control character {}",
                    crate::query::code_point(c)
                ),
            ));
        }
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(OAuthError::new(
                "invalid_request",
                format!(
                    "parameter `{name}` holds the control character {}",
                    crate::query::code_point(c)
                ),
            ));
        }
    }
    Ok(pairs)
}

/// The client's `client_id` and secret, from HTTP Basic
/// (`client_secret_basic`) or the body (`client_secret_post`), never both.
fn client_credentials(
    request: &HttpRequest,
    params: &HashMap<&str, &str>,
) -> Result<(String, String), OAuthError> {
    let basic = basic_credentials(request)?;
    let posted = (params.get("client_id"), params.get("client_secret"));
    match (basic, posted) {
        (Some(_), (_, Some(_))) => Err(OAuthError::new(
            "invalid_request",
            "use one client authentication method, not both",
        )),
        (Some((id, _)), (Some(posted_id), None)) if *posted_id != id => Err(OAuthError::new(
            "invalid_request",
            "client_id differs from the Basic credentials",
        )),
        (Some(credentials), _) => Ok(credentials),
        (None, (Some(id), Some(secret))) => Ok(((*id).to_owned(), (*secret).to_owned())),
        (None, _) => Err(OAuthError::invalid_client()),
    }
}

async fn issue<U: UnitOfWork>(
    request: &HttpRequest,
    body: &[u8],
    state: &web::Data<AppState<U>>,
    environment: &portcullis_application::environments::ResolvedEnvironment,
) -> Result<HttpResponse, OAuthError> {
    let pairs = form_pairs(body)?;
    let params = form_params(request, &pairs)?;
    let grant_type = params
        .get("grant_type")
        .copied()
        .filter(|g| !g.is_empty())
        .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is required"))?;
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type `{grant_type}` is not supported"),
        ));
    }
    let (client_id, client_secret) = client_credentials(request, &params)?;
    // Before the secret is checked (bcrypt), so that guessing costs little.
    if let Some(decision) = state
        .limits
        .token_client(environment.environment.slug.as_str(), &client_id)
    {
        crate::limits::note(request, &decision);
        if decision.refused() {
            return Err(OAuthError::rate_limited(&decision));
        }
    }
    let resource = match (params.get("resource"), params.get("audience")) {
        (Some(r), Some(a)) if r != a => {
            return Err(OAuthError::new(
                "invalid_target",
                "resource and audience name different resource servers",
            ));
        }
        (Some(r), _) | (None, Some(r)) => Some((*r).to_owned()),
        (None, None) => None,
    };
    let command = ClientCredentialsRequest {
        client_id,
        client_secret: SecretString::from(client_secret),
        scope: params.get("scope").map(|s| (*s).to_owned()),
        resource,
    };
    match state.tokens.issue(environment, command).await {
        Ok(token) => Ok(HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .content_type("application/json")
            .body(
                json!({
                    "access_token": token.access_token,
                    "token_type": "Bearer",
                    "expires_in": token.expires_in,
                    "scope": token.scope,
                })
                .to_string(),
            )),
        Err(error) => Err(match error {
            IssueTokenError::InvalidClient => OAuthError::invalid_client(),
            IssueTokenError::UnauthorizedClient => OAuthError::new(
                "unauthorized_client",
                "the client may not use the client_credentials grant",
            ),
            IssueTokenError::InvalidTarget => OAuthError::new(
                "invalid_target",
                "the resource is unknown or not granted to this client",
            ),
            IssueTokenError::InvalidScope(not_granted) => {
                OAuthError::new("invalid_scope", not_granted.to_string())
            }
            IssueTokenError::Store(store) => store_failure(&store),
            IssueTokenError::Keys(portcullis_application::keys::KeyCacheError::Store(store)) => {
                store_failure(&store)
            }
            IssueTokenError::AccessDenied(message) => OAuthError::new("access_denied", message),
            err @ (IssueTokenError::NoSigningKey
            | IssueTokenError::Crypto(_)
            | IssueTokenError::Keys(_)
            | IssueTokenError::ActionFailed(_)) => {
                let _ = ApiError::internal(&err);
                OAuthError::server(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        }),
    }
}

/// The token of an introspection or revocation request, with the caller's
/// credentials.
fn token_request(
    request: &HttpRequest,
    body: &[u8],
) -> Result<(ClientCredentials, String), OAuthError> {
    let pairs = form_pairs(body)?;
    let params = form_params(request, &pairs)?;
    let (client_id, client_secret) = client_credentials(request, &params)?;
    let token = params
        .get("token")
        .copied()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
    // `token_type_hint` is optional and only a hint (RFC 7009 §2.1, RFC 7662
    // §2.1): the token's shape tells the kinds apart.
    Ok((
        ClientCredentials {
            client_id,
            client_secret: SecretString::from(client_secret),
        },
        token.to_owned(),
    ))
}

fn key_store_failure(error: &KeyCacheError) -> OAuthError {
    match error {
        KeyCacheError::Store(store) => store_failure(store),
        other => {
            let _ = ApiError::internal(other);
            OAuthError::server(StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    }
}

fn no_store_json(body: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .content_type("application/json")
        .body(body.to_string())
}

/// `POST /oauth/introspect` (RFC 7662), for confidential clients of the environment.
pub async fn introspect<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let environment = environment(&request, &state).await?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let outcome = async {
        let (caller, token) = token_request(&request, &body)?;
        match state.tokens.introspect(&environment, &caller, &token).await {
            Ok(Some(claims)) => Ok(no_store_json(&serde_json::Value::Object(claims))),
            Ok(None) => Ok(no_store_json(&json!({ "active": false }))),
            Err(IntrospectError::InvalidClient) => Err(OAuthError::invalid_client()),
            Err(IntrospectError::Store(store)) => Err(store_failure(&store)),
            Err(IntrospectError::Keys(keys)) => Err(key_store_failure(&keys)),
        }
    }
    .await;
    Ok(outcome.unwrap_or_else(|error| error.response()))
}

/// `POST /oauth/revoke` (RFC 7009): a client revokes one of its opaque tokens.
pub async fn revoke<U: UnitOfWork>(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let environment = environment(&request, &state).await?;
    let body = crate::body::read(&request, payload, state.body_limit).await?;
    let outcome = async {
        let (caller, token) = token_request(&request, &body)?;
        match state.tokens.revoke(&environment, &caller, &token).await {
            Ok(()) => Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()),
            Err(RevokeError::InvalidClient) => Err(OAuthError::invalid_client()),
            Err(RevokeError::NotYourToken) => Err(OAuthError::new(
                "unauthorized_client",
                "the token was issued to another client",
            )),
            Err(RevokeError::UnsupportedTokenType) => Err(OAuthError::new(
                "unsupported_token_type",
                "JWT access tokens cannot be revoked; they expire",
            )),
            Err(RevokeError::Store(store)) => Err(store_failure(&store)),
            Err(RevokeError::Keys(keys)) => Err(key_store_failure(&keys)),
        }
    }
    .await;
    Ok(outcome.unwrap_or_else(|error| error.response()))
}

/// `GET /.well-known/jwks.json`: the environment's active public keys.
pub async fn jwks<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let environment = environment(&request, &state).await?;
    let keys = state
        .keys
        .keys(environment.environment.id)
        .await
        .map_err(key_failure)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/json")
        .body(keys.jwks().to_string()))
}

/// `GET /.well-known/openid-configuration`: RFC 8414 / OIDC discovery metadata.
pub async fn discovery<U: UnitOfWork>(
    request: HttpRequest,
    state: web::Data<AppState<U>>,
) -> Result<HttpResponse, ApiError> {
    let environment = environment(&request, &state).await?;
    let issuer = &environment.issuer;
    Ok(HttpResponse::Ok().content_type("application/json").body(
        json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/oauth/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "introspection_endpoint": format!("{issuer}/oauth/introspect"),
            "revocation_endpoint": format!("{issuer}/oauth/revoke"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            // No authorization endpoint yet, so no response type is supported (RFC 8414 §2).
            "response_types_supported": [],
            "scopes_supported": portcullis_domain::oauth::management_api_scopes(),
        })
        .to_string(),
    ))
}
