//! A real integration, played end to end the way an operator and a
//! developer would: through the Management API, a resource server with
//! scopes, a confidential client and a grant for a subset of the scopes;
//! then a token with a standard OAuth 2.0 client library (the `oauth2`
//! crate: form post, HTTP Basic), verified against the JWKS by an
//! independent JWT library (`jsonwebtoken`), introspected; then the client
//! switched to opaque tokens, one revoked (RFC 7009) and refused from then
//! on, and the last one gone with its client.

use std::collections::HashSet;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, ClientSecret, RevocationUrl, Scope, StandardRevocableToken, TokenResponse,
    TokenUrl,
};
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, jsonapi, spawn_app};

const ORDERS: &str = "https://orders.example.com/api";

/// The `oauth2` crate's HTTP hook, served by the test's own HTTP client.
fn http_client(
    client: reqwest::Client,
) -> impl Fn(
    oauth2::HttpRequest,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>,
> {
    move |request: oauth2::HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut outgoing = client
                .request(parts.method, parts.uri.to_string())
                .body(body);
            for (name, value) in &parts.headers {
                outgoing = outgoing.header(name, value);
            }
            let response = outgoing.send().await?;
            let mut built = http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                built = built.header(name, value);
            }
            let body = response.bytes().await?.to_vec();
            Ok(built.body(body).expect("response"))
        })
    }
}

async fn created(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 201);
    jsonapi(response).await["data"].clone()
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    app.client
        .post(format!("{}/oauth/introspect", app.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn a_resource_server_client_and_grant_work_with_standard_libraries(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;

    // The operator: an API with three scopes, a machine client, a grant of two.
    let api = created(
        app.post(
            "/api/resource-servers",
            &admin,
            &json!({"data": {"type": "resource_server", "attributes": {
                "name": "Orders", "identifier": ORDERS, "token_lifetime": 600}}}),
        )
        .await,
    )
    .await;
    for name in ["orders:read", "orders:write", "orders:refund"] {
        created(
            app.post(
                "/api/scopes",
                &admin,
                &json!({"data": {"type": "scope", "attributes": {"name": name},
                    "relationships": {"resource_server": {"data": {"type": "resource_server", "id": api["id"]}}}}}),
            )
            .await,
        )
        .await;
    }
    let client = created(
        app.post(
            "/api/clients",
            &admin,
            &json!({"data": {"type": "client", "attributes": {
                "name": "Order sync", "client_type": "confidential",
                "grant_types": ["client_credentials"]}}}),
        )
        .await,
    )
    .await;
    let client_id = client["attributes"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = client["attributes"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    created(
        app.post(
            "/api/client-grants",
            &admin,
            &json!({"data": {"type": "client_grant",
                "attributes": {"allowed_scopes": ["orders:read", "orders:write"]},
                "relationships": {
                    "client": {"data": {"type": "client", "id": client["id"]}},
                    "resource_server": {"data": {"type": "resource_server", "id": api["id"]}}}}}),
        )
        .await,
    )
    .await;

    // The developer: a standard OAuth 2.0 client, HTTP Basic, form post.
    let oauth = BasicClient::new(ClientId::new(client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_auth_uri(AuthUrl::new(format!("{}/authorize", app.base)).unwrap())
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", app.base)).unwrap())
        .set_revocation_url(RevocationUrl::new(format!("{}/oauth/revoke", app.base)).unwrap());
    let http = http_client(app.client.clone());
    let response = oauth
        .exchange_client_credentials()
        .add_scope(Scope::new("orders:read".into()))
        .add_extra_param("resource", ORDERS)
        .request_async(&http)
        .await
        .expect("client credentials token");
    let scopes: HashSet<String> = response
        .scopes()
        .expect("scope in the response")
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(scopes, HashSet::from(["orders:read".to_owned()]));
    assert_eq!(response.expires_in().unwrap().as_secs(), 600);
    let jwt = response.access_token().secret().clone();

    // An independent JWT library verifies it against the published JWKS.
    let jwks: JwkSet = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(&jwt).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[ORDERS]);
    validation.set_issuer(&[app.base.as_str()]);
    let claims = decode::<Value>(&jwt, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("the token verifies")
        .claims;
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );

    // A scope outside the grant is refused by the library's error path.
    let refused = oauth
        .exchange_client_credentials()
        .add_scope(Scope::new("orders:refund".into()))
        .add_extra_param("resource", ORDERS)
        .request_async(&http)
        .await;
    assert!(refused.is_err(), "orders:refund is not granted");

    let about = introspect(&app, &jwt).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["aud"], ORDERS);

    // The operator switches the client to opaque tokens.
    let switched = app
        .patch(
            &format!("/api/clients/{}", client["id"].as_str().unwrap()),
            &admin,
            &json!({"data": {"type": "client", "id": client["id"],
                "attributes": {"token_format": "opaque"}}}),
        )
        .await;
    assert_eq!(switched.status(), 200);
    let response = oauth
        .exchange_client_credentials()
        .add_extra_param("resource", ORDERS)
        .request_async(&http)
        .await
        .expect("opaque token");
    let opaque = response.access_token().secret().clone();
    assert!(!opaque.contains('.'), "opaque, not a JWT");
    let about = introspect(&app, &opaque).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["scope"], "orders:read orders:write");
    assert_eq!(about["client_id"], client_id.as_str());
    assert_eq!(about["aud"], ORDERS);

    // The developer revokes it (RFC 7009). The library's own revocation
    // call refuses a plain-http endpoint (`InsecureUrl`), a production rule
    // the loopback test server cannot meet, so the request is the standard
    // form post with HTTP Basic, built by hand.
    let revoked = app
        .client
        .post(format!("{}/oauth/revoke", app.base))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("token", opaque.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(matches!(
        oauth
            .revoke_token(StandardRevocableToken::AccessToken(
                response.access_token().clone()
            ))
            .map(|_| ()),
        Err(oauth2::ConfigurationError::InsecureUrl("revocation"))
    ));
    assert_eq!(introspect(&app, &opaque).await, json!({"active": false}));

    // Another opaque token dies with its client.
    let response = oauth
        .exchange_client_credentials()
        .add_extra_param("resource", ORDERS)
        .request_async(&http)
        .await
        .expect("opaque token");
    let last = response.access_token().secret().clone();
    assert_eq!(introspect(&app, &last).await["active"], true);
    let deleted = app
        .delete(
            &format!("/api/clients/{}", client["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(introspect(&app, &last).await, json!({"active": false}));
}

on_both_stores!(a_resource_server_client_and_grant_work_with_standard_libraries);
