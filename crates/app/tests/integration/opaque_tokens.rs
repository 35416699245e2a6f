//! Opaque access tokens end to end: issued to a client whose `token_format`
//! is `opaque`, stored as a digest, accepted on `/api`, introspected
//! (RFC 7662) and revoked (RFC 7009), after which they are refused at once.

use portcullis_adapters_crypto::RandomSecrets;
use portcullis_domain::oauth::{
    Client, ClientGrant, ClientType, GrantType, SecretDigest, TokenFormat,
};
use portcullis_domain::{ClientGrantId, ClientId, Timestamp};
use portcullis_ports::crypto::SecretGenerator;
use portcullis_ports::store::{StoreError, UnitOfWork};
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, spawn_app};

const OPAQUE_ID: &str = "opaque-machine";
const OPAQUE_SECRET: &str = "an-opaque-client-secret-of-some-length";

/// Registers a confidential client with opaque tokens and a grant on the
/// Management API (users scopes only), straight in the store.
async fn opaque_client(app: &TestApp) -> SecretDigest {
    let digest = RandomSecrets.digest_secret(OPAQUE_SECRET);
    let stored = digest.clone();
    app.store
        .transaction(move |tx| {
            let env = tx
                .find_environment_by_slug("default")?
                .ok_or(StoreError::NotFound)?;
            let api = tx
                .find_system_resource_server(env.id)?
                .ok_or(StoreError::NotFound)?;
            let now = Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap();
            let client = Client {
                id: ClientId::from_ulid(ulid::Ulid::generate()),
                environment_id: env.id,
                client_id: OPAQUE_ID.into(),
                name: "Opaque machine".into(),
                client_type: ClientType::Confidential,
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                token_format: TokenFormat::Opaque,
                first_party: false,
                secret_digest: Some(stored),
                created_at: now,
                updated_at: now,
            };
            tx.insert_client(&client)?;
            tx.insert_client_grant(&ClientGrant {
                id: ClientGrantId::from_ulid(ulid::Ulid::generate()),
                environment_id: env.id,
                client_id: client.id,
                resource_server_id: api.id,
                allowed_scopes: vec!["users:read".into(), "users:write".into()],
                created_at: now,
            })
        })
        .await
        .unwrap();
    digest
}

/// A form post to an OAuth endpoint with Basic client authentication.
async fn post_form(
    app: &TestApp,
    path: &str,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.base))
        .basic_auth(id, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn opaque_token(app: &TestApp) -> String {
    let response = post_form(
        app,
        "/oauth/token",
        (OPAQUE_ID, OPAQUE_SECRET),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "users:read users:write");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn introspect(app: &TestApp, caller: (&str, &str), token: &str) -> Value {
    let response = post_form(app, "/oauth/introspect", caller, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn an_opaque_token_is_random_stored_as_a_digest_and_works_on_the_api(store: Store) {
    let app = spawn_app(store).await;
    let digest = opaque_client(&app).await;
    let token = opaque_token(&app).await;
    assert!(!token.contains('.'), "not a JWT: {token}");
    assert!(token.len() >= 43, "at least 256 bits: {token}");
    assert_ne!(token, opaque_token(&app).await, "each token is fresh");

    // Only the digest of the token string is stored.
    let stored = app
        .db
        .texts("SELECT digest AS value FROM access_tokens ORDER BY id");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0], RandomSecrets.digest_secret(&token).as_str());
    assert!(stored.iter().all(|d| d != &token && d != digest.as_str()));

    let listed = app.get("/api/users", &token).await;
    assert_eq!(listed.status(), 200);
    // Its scopes are the grant's: no users:delete, no roles.
    let roles = app.get("/api/roles", &token).await;
    assert_eq!(roles.status(), 403);
    let forged = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(app.get("/api/users", &forged).await.status(), 401);
}

async fn introspection_describes_active_tokens_of_both_kinds(store: Store) {
    let app = spawn_app(store).await;
    opaque_client(&app).await;
    let opaque = opaque_token(&app).await;
    let jwt = app.token(Some("users:read")).await;
    let bootstrap = (CLIENT_ID, CLIENT_SECRET);

    let about = introspect(&app, bootstrap, &opaque).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["client_id"], OPAQUE_ID);
    assert_eq!(about["sub"], OPAQUE_ID);
    assert_eq!(about["scope"], "users:read users:write");
    assert_eq!(about["token_type"], "Bearer");
    assert_eq!(about["iss"], app.base);
    assert_eq!(about["aud"], format!("{}/api", app.base));
    let (iat, exp) = (
        about["iat"].as_i64().unwrap(),
        about["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 3600);
    assert!(about["jti"].is_string());

    let about = introspect(&app, (OPAQUE_ID, OPAQUE_SECRET), &jwt).await;
    assert_eq!(about["active"], true);
    assert_eq!(about["client_id"], CLIENT_ID);
    assert_eq!(about["scope"], "users:read");
    assert_eq!(about["aud"], format!("{}/api", app.base));

    for unknown in ["nope", "a.b.c", &format!("{opaque}x"), &format!("{jwt}x")] {
        let about = introspect(&app, bootstrap, unknown).await;
        assert_eq!(about, json!({"active": false}), "{unknown}");
    }

    let wrong_secret = post_form(
        &app,
        "/oauth/introspect",
        (CLIENT_ID, "wrong"),
        &[("token", &opaque)],
    )
    .await;
    assert_eq!(wrong_secret.status(), 401);
    assert!(wrong_secret.headers().contains_key("www-authenticate"));
    let body: Value = wrong_secret.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    let no_token = post_form(&app, "/oauth/introspect", bootstrap, &[]).await;
    assert_eq!(no_token.status(), 400);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let get = app
        .client
        .get(format!("{}/oauth/introspect", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

async fn a_revoked_opaque_token_is_refused_at_once(store: Store) {
    let app = spawn_app(store).await;
    opaque_client(&app).await;
    let token = opaque_token(&app).await;
    let other = opaque_token(&app).await;
    assert_eq!(app.get("/api/users", &token).await.status(), 200);

    // Only the client it was issued to may revoke it.
    let foreign = post_form(
        &app,
        "/oauth/revoke",
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", &token)],
    )
    .await;
    assert_eq!(foreign.status(), 400);
    let body: Value = foreign.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(app.get("/api/users", &token).await.status(), 200);

    let owner = (OPAQUE_ID, OPAQUE_SECRET);
    let revoked = post_form(
        &app,
        "/oauth/revoke",
        owner,
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(app.get("/api/users", &token).await.status(), 401);
    let about = introspect(&app, owner, &token).await;
    assert_eq!(about, json!({"active": false}));
    // Other tokens of the client keep working.
    assert_eq!(app.get("/api/users", &other).await.status(), 200);

    // Revoking again, or an unknown token, is not an error (RFC 7009 §2.2).
    for again in [token.as_str(), "never-issued"] {
        let response = post_form(&app, "/oauth/revoke", owner, &[("token", again)]).await;
        assert_eq!(response.status(), 200, "{again}");
    }
    assert_eq!(
        app.db.event_types("access_token"),
        ["access_token.revoked"],
        "one event for the one revocation, none for the refused or repeated ones"
    );
    let data = app
        .db
        .texts("SELECT data AS value FROM events WHERE event_type = 'access_token.revoked'");
    assert!(!data[0].contains(&token), "no token in the event");

    // A JWT cannot be revoked: it is self-contained and expires.
    let jwt = app.token(None).await;
    let response = post_form(
        &app,
        "/oauth/revoke",
        (CLIENT_ID, CLIENT_SECRET),
        &[("token", &jwt)],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
    let response = post_form(
        &app,
        "/oauth/revoke",
        (OPAQUE_ID, "wrong"),
        &[("token", &other)],
    )
    .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.get("/api/users", &other).await.status(), 200);
}

async fn discovery_advertises_introspection_and_revocation(store: Store) {
    let app = spawn_app(store).await;
    let body: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["introspection_endpoint"],
        format!("{}/oauth/introspect", app.base)
    );
    assert_eq!(
        body["revocation_endpoint"],
        format!("{}/oauth/revoke", app.base)
    );
}

on_both_stores!(
    an_opaque_token_is_random_stored_as_a_digest_and_works_on_the_api,
    introspection_describes_active_tokens_of_both_kinds,
    a_revoked_opaque_token_is_refused_at_once,
    discovery_advertises_introspection_and_revocation,
);
