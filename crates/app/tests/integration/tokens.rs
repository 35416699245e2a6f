//! The token endpoint, the JWKS and discovery, and attacks on bearer tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{HS256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use portcullis_domain::oauth::{ClientGrant, ResourceServer, TokenLifetime};
use portcullis_domain::{ClientGrantId, ResourceServerId, Timestamp};
use portcullis_ports::store::{StoreError, UnitOfWork};
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, spawn_app};

fn decode_segment(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

async fn jwks(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn a_basic_auth_token_is_an_rfc9068_jwt_that_verifies_with_the_published_jwks(store: Store) {
    let app = spawn_app(store).await;
    let response = app
        .token_response(&[("scope", "users:read users:write")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "users:read users:write");
    let token = body["access_token"].as_str().unwrap();

    let header = decode_segment(token, 0);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    let jwks = jwks(&app).await;
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    for member in ["kty", "alg", "use", "n", "e"] {
        assert!(jwk[member].is_string(), "JWK has {member}");
    }
    // A third-party verifier (josekit used directly) accepts the token.
    let verifier = RS256
        .verifier_from_jwk(&josekit::jwk::Jwk::from_bytes(jwk.to_string()).unwrap())
        .unwrap();
    let (payload, _) = jwt::decode_with_verifier(token, &verifier).unwrap();
    assert_eq!(payload.issuer(), Some(app.base.as_str()));
    assert_eq!(
        payload.audience(),
        Some(vec![format!("{}/api", app.base).as_str()])
    );
    assert_eq!(payload.subject(), Some(CLIENT_ID));
    let claims = decode_segment(token, 1);
    assert_eq!(claims["client_id"], CLIENT_ID);
    assert!(
        claims["iat"].is_i64() && claims["exp"].is_i64(),
        "integer NumericDates: {claims}"
    );
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 26);
}

async fn client_secret_post_works_and_every_granted_scope_is_the_default(store: Store) {
    let app = spawn_app(store).await;
    let response = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let scopes: Vec<&str> = body["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(scopes.len(), 36);
    assert!(scopes.contains(&"signing_keys:delete"));
}

async fn token_errors_follow_rfc6749(store: Store) {
    let app = spawn_app(store).await;
    let url = format!("{}/oauth/token", app.base);
    let error_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        assert_eq!(response.headers()["cache-control"], "no-store");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["error"].as_str().unwrap().to_owned(),
            challenge,
        )
    };

    let wrong_secret = app
        .client
        .post(&url)
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let (status, code, challenge) = error_of(wrong_secret).await;
    assert_eq!((status, code.as_str()), (401, "invalid_client"));
    assert!(challenge.unwrap().starts_with("Basic"));

    let unknown = app
        .client
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(unknown).await.0, 401);

    let no_credentials = app
        .client
        .post(&url)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(&error_of(no_credentials).await.1, "invalid_client");

    let both = app
        .client
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(both).await,
        (400, "invalid_request".to_owned(), None)
    );

    let cc = ("grant_type", "client_credentials");
    let cases = [
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![cc, ("scope", "users:read users:fly")], "invalid_scope"),
        (
            vec![cc, ("resource", "https://unknown.example/api")],
            "invalid_target",
        ),
        (
            vec![cc, ("audience", "https://unknown.example/api")],
            "invalid_target",
        ),
        (
            vec![cc, ("scope", "users:read"), ("scope", "users:write")],
            "invalid_request",
        ),
    ];
    for (form, expected) in cases {
        let response = app
            .client
            .post(&url)
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&form)
            .send()
            .await
            .unwrap();
        let (status, code, _) = error_of(response).await;
        assert_eq!((status, code.as_str()), (400, expected), "{form:?}");
    }

    let missing_grant = app
        .client
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("scope", "users:read")])
        .send()
        .await
        .unwrap();
    assert_eq!(&error_of(missing_grant).await.1, "invalid_request");
    let json_body = app
        .client
        .post(&url)
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(&error_of(json_body).await.1, "invalid_request");
}

async fn discovery_names_the_issuer_and_its_endpoints(store: Store) {
    let app = spawn_app(store).await;
    let doc: Value = app
        .client
        .get(format!("{}/.well-known/openid-configuration", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], app.base);
    assert_eq!(doc["token_endpoint"], format!("{}/oauth/token", app.base));
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base)
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
}

fn valid_claims(app: &TestApp) -> JwtPayload {
    let mut payload = JwtPayload::new();
    payload.set_issuer(&app.base);
    payload.set_audience(vec![format!("{}/api", app.base)]);
    payload.set_subject(CLIENT_ID);
    payload
        .set_claim("client_id", Some(json!(CLIENT_ID)))
        .unwrap();
    payload
        .set_claim("scope", Some(json!("users:read")))
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    payload.set_claim("iat", Some(json!(now))).unwrap();
    payload.set_claim("exp", Some(json!(now + 600))).unwrap();
    payload
}

async fn status_of(app: &TestApp, token: &str) -> u16 {
    let response = app.get("/api/users", token).await;
    let status = response.status().as_u16();
    if status == 401 {
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        expect_error(response, 401, "invalid_token").await;
    }
    status
}

async fn forged_tokens_are_all_401(store: Store) {
    let app = spawn_app(store).await;
    let genuine = app.token(Some("users:read")).await;
    assert_eq!(status_of(&app, &genuine).await, 200);
    let kid = decode_segment(&genuine, 0)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = valid_claims(&app);
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());

    // alg: none, no signature.
    let none = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
        encode(&Value::Object(claims.claims_set().clone()))
    );
    assert_eq!(status_of(&app, &none).await, 401, "alg none");

    // HS256 keyed with the public key (as JWK text, and as the modulus bytes).
    let jwk = jwks(&app).await["keys"][0].to_string();
    for secret in [
        jwk.as_bytes().to_vec(),
        URL_SAFE_NO_PAD
            .decode(jwks(&app).await["keys"][0]["n"].as_str().unwrap())
            .unwrap(),
    ] {
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(&kid);
        let forged =
            jwt::encode_with_signer(&claims, &header, &HS256.signer_from_bytes(&secret).unwrap())
                .unwrap();
        assert_eq!(
            status_of(&app, &forged).await,
            401,
            "HS256 with the public key"
        );
    }

    // A key we never published, under an unknown kid and under the real kid.
    let stranger = RS256.generate_key_pair(2048).unwrap();
    let signer = RS256
        .signer_from_der(stranger.to_der_private_key())
        .unwrap();
    for key_id in ["unknown-kid", kid.as_str()] {
        let mut header = JwsHeader::new();
        header.set_token_type("at+jwt");
        header.set_key_id(key_id);
        let forged = jwt::encode_with_signer(&claims, &header, &signer).unwrap();
        assert_eq!(
            status_of(&app, &forged).await,
            401,
            "foreign key as {key_id}"
        );
    }

    // A tampered payload keeps the genuine signature.
    let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
    let mut tampered_claims = decode_segment(&genuine, 1);
    tampered_claims["scope"] = json!("users:read users:write users:delete");
    parts[1] = encode(&tampered_claims);
    assert_eq!(
        status_of(&app, &parts.join(".")).await,
        401,
        "tampered payload"
    );

    for garbage in ["", "abc", "a.b.c", "Bearer"] {
        assert_eq!(status_of(&app, garbage).await, 401, "garbage {garbage:?}");
    }
    let malformed_header = app
        .client
        .get(format!("{}/api/users", app.base))
        .header("authorization", format!("Basic {genuine}"))
        .send()
        .await
        .unwrap();
    expect_error(malformed_header, 401, "invalid_token").await;
}

async fn a_token_for_another_audience_is_rejected_by_the_management_api(store: Store) {
    let app = spawn_app(store).await;
    let audience = "https://orders.example.com/api";
    app.store
        .transaction(move |tx| {
            let env = tx
                .find_environment_by_slug("default")?
                .ok_or(StoreError::NotFound)?;
            let client = tx
                .find_client_by_client_id(env.id, CLIENT_ID)?
                .ok_or(StoreError::NotFound)?;
            let now = Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap();
            let server = ResourceServer {
                id: ResourceServerId::from_ulid(ulid::Ulid::generate()),
                environment_id: env.id,
                name: "Orders".into(),
                identifier: audience.into(),
                token_lifetime: TokenLifetime::new(120).unwrap(),
                system: false,
                created_at: now,
                updated_at: now,
            };
            tx.insert_resource_server(&server)?;
            tx.insert_client_grant(&ClientGrant {
                id: ClientGrantId::from_ulid(ulid::Ulid::generate()),
                environment_id: env.id,
                client_id: client.id,
                resource_server_id: server.id,
                allowed_scopes: vec!["orders:read".into()],
                created_at: now,
            })
        })
        .await
        .unwrap();

    let response = app.token_response(&[("resource", audience)]).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["scope"], "orders:read");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(decode_segment(token, 1)["aud"], audience);
    assert_eq!(status_of(&app, token).await, 401, "wrong audience");

    let by_audience = app
        .token_response(&[("audience", audience), ("scope", "users:read")])
        .await;
    assert_eq!(
        by_audience.status(),
        400,
        "scopes of the other resource server only"
    );
}

on_both_stores!(
    a_basic_auth_token_is_an_rfc9068_jwt_that_verifies_with_the_published_jwks,
    client_secret_post_works_and_every_granted_scope_is_the_default,
    token_errors_follow_rfc6749,
    discovery_names_the_issuer_and_its_endpoints,
    forged_tokens_are_all_401,
    a_token_for_another_audience_is_rejected_by_the_management_api,
);
