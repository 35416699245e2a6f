//! The connections collection end to end: the discovery_url rules per
//! strategy, the write-only client secret (never in a response or event,
//! encrypted at rest under the master key), the fixed strategy, pages,
//! other environments and scope gating.

use portcullis_adapters_crypto::AesGcmCipher;
use portcullis_adapters_postgres::Backend;
use portcullis_application::environments::BootstrapCredentials;
use portcullis_ports::crypto::SecretCipher as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

const SECRET: &str = "provider-secret-9f8e7d6c5b4a";
const ROTATED: &str = "rotated-provider-secret-0a1b2c";
const DISCOVERY: &str = "https://idp.example.com/.well-known/openid-configuration";

fn document(attributes: &Value) -> Value {
    json!({"data": {"type": "connection", "attributes": attributes}})
}

async fn create(app: &TestApp, token: &str, attributes: &Value) -> reqwest::Response {
    app.post("/api/connections", token, &document(attributes))
        .await
}

/// The raw `client_secret` column of every connection, as lower-case hex.
fn stored_secrets(app: &TestApp) -> Vec<String> {
    let sql = match app.db.backend() {
        Backend::Postgres => {
            "SELECT coalesce(encode(client_secret, 'hex'), 'null') AS value FROM connections ORDER BY id"
        }
        Backend::Sqlite => {
            "SELECT CASE WHEN client_secret IS NULL THEN 'null' ELSE lower(hex(client_secret)) END AS value FROM connections ORDER BY id"
        }
    };
    app.db.texts(sql)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(!text.contains(ROTATED), "secret leaked: {text}");
    assert!(!text.contains("\"client_secret\""), "secret member: {text}");
}

async fn a_connection_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = create(
        &app,
        &token,
        &json!({
            "strategy": "oidc", "display_name": " Corp SSO ", "client_id": "corp-client",
            "client_secret": SECRET, "scopes": "openid  email profile",
            "discovery_url": DISCOVERY
        }),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let text = created.text().await.unwrap();
    assert_no_secret(&text);
    let body: Value = serde_json::from_str(&text).unwrap();
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/connections/{id}", app.base));
    assert_eq!(body["data"]["type"], "connection");
    assert_eq!(
        body["data"]["attributes"],
        json!({
            "strategy": "oidc", "display_name": "Corp SSO", "client_id": "corp-client",
            "client_secret_set": true, "scopes": "openid email profile",
            "discovery_url": DISCOVERY, "enforce_sso": false,
            "created_at": body["data"]["attributes"]["created_at"],
            "updated_at": body["data"]["attributes"]["created_at"],
        })
    );

    // Encrypted at rest: the column is not the secret, and opens with the master key.
    let cipher = AesGcmCipher::new(&app.master_key);
    let sealed = stored_secrets(&app);
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].contains(&hex(SECRET.as_bytes())));
    let opened = cipher.decrypt(&unhex(&sealed[0])).unwrap();
    assert_eq!(opened.expose_secret(), SECRET.as_bytes());

    let fetched = app.get(&format!("/api/connections/{id}"), &token).await;
    assert_eq!(fetched.status(), 200);
    let fetched = fetched.text().await.unwrap();
    assert_no_secret(&fetched);
    let fetched: Value = serde_json::from_str(&fetched).unwrap();
    assert_eq!(fetched["data"], body["data"]);

    let patched = app
        .patch(
            &format!("/api/connections/{id}"),
            &token,
            &json!({"data": {"type": "connection", "id": id, "attributes": {
                "client_secret": ROTATED, "enforce_sso": true, "strategy": "oidc",
                "display_name": "Corp"
            }}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = patched.text().await.unwrap();
    assert_no_secret(&patched);
    let patched: Value = serde_json::from_str(&patched).unwrap();
    let attributes = &patched["data"]["attributes"];
    assert_eq!(attributes["enforce_sso"], true);
    assert_eq!(attributes["display_name"], "Corp");
    assert_eq!(attributes["client_secret_set"], true);
    assert_eq!(attributes["client_id"], "corp-client", "untouched");
    let sealed = stored_secrets(&app);
    assert_eq!(
        cipher.decrypt(&unhex(&sealed[0])).unwrap().expose_secret(),
        ROTATED.as_bytes()
    );

    let listed = app.get("/api/connections", &token).await;
    let listed = listed.text().await.unwrap();
    assert_no_secret(&listed);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["data"], json!([patched["data"].clone()]));

    let deleted = app.delete(&format!("/api/connections/{id}"), &token).await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/connections/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("connection"),
        [
            "connection.created",
            "connection.updated",
            "connection.deleted"
        ]
    );
    let events = app.db.event_data("connection");
    for data in &events {
        assert_no_secret(data);
        let event: Value = serde_json::from_str(data).unwrap();
        assert_eq!(event["type"], "connection");
        assert_eq!(event["id"], id.as_str());
        assert_eq!(event["attributes"]["client_secret_set"], true);
    }
    // No ciphertext in events either.
    let ciphertext = &sealed[0];
    assert!(events.iter().all(|e| !e.contains(ciphertext.as_str())));
}

async fn discovery_url_rules_follow_the_strategy(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for strategy in ["oidc", "auth0"] {
        let response = create(
            &app,
            &token,
            &json!({"strategy": strategy, "client_id": "c"}),
        )
        .await;
        let error = expect_error(response, 422, "discovery_url_required").await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/discovery_url");
        let response = create(
            &app,
            &token,
            &json!({"strategy": strategy, "client_id": "c", "discovery_url": "http://idp.example.com/x"}),
        )
        .await;
        let error = expect_error(response, 422, "invalid_discovery_url").await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/discovery_url");
    }
    for bad in [
        "idp.example.com/x",
        "/relative",
        "https://idp.example.com/x#frag",
        "ftp://idp.example.com",
    ] {
        let response = create(
            &app,
            &token,
            &json!({"strategy": "google", "client_id": "c", "discovery_url": bad}),
        )
        .await;
        let error = expect_error(response, 422, "invalid_discovery_url").await;
        assert_eq!(
            error["source"]["pointer"], "/data/attributes/discovery_url",
            "{bad}"
        );
    }
    assert!(
        app.db.event_types("connection").is_empty(),
        "nothing created"
    );

    // Every other strategy works without one, and may have an https one.
    for strategy in [
        "google",
        "microsoft",
        "github",
        "facebook",
        "discord",
        "gitlab",
        "slack",
        "linkedin",
        "bitbucket",
    ] {
        let response = create(
            &app,
            &token,
            &json!({"strategy": strategy, "client_id": "c"}),
        )
        .await;
        assert_eq!(response.status(), 201, "{strategy}");
        let body = jsonapi(response).await;
        assert_eq!(body["data"]["attributes"]["discovery_url"], Value::Null);
        assert_eq!(body["data"]["attributes"]["client_secret_set"], false);
        assert_eq!(body["data"]["attributes"]["scopes"], "");
        assert_eq!(body["data"]["attributes"]["display_name"], "");
    }
    let auth0 = jsonapi(
        create(
            &app,
            &token,
            &json!({"strategy": "auth0", "client_id": "c", "discovery_url": DISCOVERY}),
        )
        .await,
    )
    .await;
    let id = auth0["data"]["id"].as_str().unwrap();
    assert_eq!(
        stored_secrets(&app).iter().filter(|s| *s == "null").count(),
        10
    );

    // An auth0 connection cannot drop its discovery_url; a google one can.
    let response = app
        .patch(
            &format!("/api/connections/{id}"),
            &token,
            &json!({"data": {"type": "connection", "id": id, "attributes": {"discovery_url": null}}}),
        )
        .await;
    let error = expect_error(response, 422, "discovery_url_required").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/discovery_url");
    let github = jsonapi(
        create(
            &app,
            &token,
            &json!({"strategy": "github", "client_id": "c", "discovery_url": DISCOVERY}),
        )
        .await,
    )
    .await;
    let github_id = github["data"]["id"].as_str().unwrap();
    let cleared = jsonapi(
        app.patch(
            &format!("/api/connections/{github_id}"),
            &token,
            &json!({"data": {"type": "connection", "id": github_id, "attributes": {"discovery_url": null}}}),
        )
        .await,
    )
    .await;
    assert_eq!(cleared["data"]["attributes"]["discovery_url"], Value::Null);
}

async fn the_strategy_is_fixed_and_bad_input_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = jsonapi(
        create(
            &app,
            &token,
            &json!({"strategy": "google", "client_id": "g", "client_secret": SECRET}),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap();
    let patch = |attributes: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.patch(
                &format!("/api/connections/{id}"),
                token,
                &json!({"data": {"type": "connection", "id": id, "attributes": attributes}}),
            )
            .await
        }
    };
    let error = expect_error(
        patch(json!({"strategy": "github"})).await,
        422,
        "strategy_immutable",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/strategy");
    let error = expect_error(
        patch(json!({"strategy": "saml"})).await,
        422,
        "invalid_strategy",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/strategy");
    for (attributes, code, pointer) in [
        (
            json!({"client_secret_set": false}),
            "read_only_attribute",
            "client_secret_set",
        ),
        (
            json!({"created_at": "2026-01-01T00:00:00Z"}),
            "read_only_attribute",
            "created_at",
        ),
        (json!({"client_id": null}), "null_not_allowed", "client_id"),
        (
            json!({"client_secret": null}),
            "null_not_allowed",
            "client_secret",
        ),
        (
            json!({"client_secret": ""}),
            "invalid_client_secret",
            "client_secret",
        ),
        (
            json!({"client_id": "a b"}),
            "invalid_client_id",
            "client_id",
        ),
        (
            json!({"scopes": "openid \"bad\""}),
            "invalid_scopes",
            "scopes",
        ),
        (
            json!({"display_name": "x".repeat(101)}),
            "invalid_display_name",
            "display_name",
        ),
        (json!({"enforce_sso": "yes"}), "invalid_type", "enforce_sso"),
    ] {
        let error = expect_error(patch(attributes.clone()).await, 422, code).await;
        assert_eq!(
            error["source"]["pointer"],
            format!("/data/attributes/{pointer}"),
            "{attributes}"
        );
    }
    let fetched = jsonapi(app.get(&format!("/api/connections/{id}"), &token).await).await;
    assert_eq!(fetched["data"], created["data"], "nothing changed");
    assert_eq!(app.db.event_types("connection"), ["connection.created"]);

    // Create: required members, unknown strategy, every violation at once.
    let response = create(&app, &token, &json!({})).await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let errors: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["source"]["pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("strategy_required", "/data/attributes/strategy"),
            ("client_id_required", "/data/attributes/client_id"),
        ]
    );
    let response = create(
        &app,
        &token,
        &json!({"strategy": "Google", "client_id": "c"}),
    )
    .await;
    expect_error(response, 422, "invalid_strategy").await;
    let response = create(
        &app,
        &token,
        &json!({"strategy": "google", "client_id": "c", "extra": 1}),
    )
    .await;
    expect_error(response, 400, "unknown_attribute").await;
    assert_eq!(app.db.event_types("connection"), ["connection.created"]);

    // Unknown and foreign ids are 404.
    let ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    expect_error(
        app.get(&format!("/api/connections/{ghost}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/connections/not-an-id", &token).await,
        404,
        "not_found",
    )
    .await;
    app.environments
        .create(
            "staging",
            Some(BootstrapCredentials {
                client_id: "staging-client".into(),
                client_secret: SecretString::from("staging-secret-staging-secret-staging"),
            }),
        )
        .await
        .unwrap();
    let staging = app.issuer("staging");
    let response = app
        .client
        .post(format!("{staging}/oauth/token"))
        .basic_auth(
            "staging-client",
            Some("staging-secret-staging-secret-staging"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let staging_token: Value = response.json().await.unwrap();
    let staging_token = staging_token["access_token"].as_str().unwrap();
    for request in [
        app.client.get(format!("{staging}/api/connections/{id}")),
        app.client.delete(format!("{staging}/api/connections/{id}")),
    ] {
        let response = request.bearer_auth(staging_token).send().await.unwrap();
        expect_error(response, 404, "not_found").await;
    }
    let listed = app
        .client
        .get(format!("{staging}/api/connections"))
        .bearer_auth(staging_token)
        .send()
        .await
        .unwrap();
    assert_eq!(jsonapi(listed).await["data"], json!([]));
}

async fn lists_page_by_cursor_in_both_orders(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let body = jsonapi(
            create(
                &app,
                &token,
                &json!({"strategy": "github", "client_id": format!("c{n}"), "client_secret": SECRET}),
            )
            .await,
        )
        .await;
        ids.push(body["data"]["id"].as_str().unwrap().to_owned());
    }
    let follow = |start: String| {
        let app = &app;
        let token = &token;
        async move {
            let mut next = Some(start);
            let mut seen = Vec::new();
            let mut pages = 0;
            while let Some(url) = next {
                let text = app
                    .client
                    .get(&url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert_no_secret(&text);
                let page: Value = serde_json::from_str(&text).unwrap();
                pages += 1;
                seen.extend(
                    page["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["id"].as_str().unwrap().to_owned()),
                );
                next = page["links"]["next"].as_str().map(str::to_owned);
            }
            (pages, seen)
        }
    };
    let (pages, seen) = follow(format!("{}/api/connections?page%5Bsize%5D=2", app.base)).await;
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);
    let (_, seen) = follow(format!("{}/api/connections?sort=-created_at", app.base)).await;
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(seen, reversed);
    let response = app
        .get("/api/connections?filter%5Bstrategy%5D=github", &token)
        .await;
    assert_eq!(response.status(), 400);
}

async fn scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let read_only = app.token(Some("connections:read")).await;
    assert_eq!(app.get("/api/connections", &read_only).await.status(), 200);
    let response = create(
        &app,
        &read_only,
        &json!({"strategy": "google", "client_id": "c"}),
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"connections:write\""
    );
    expect_error(response, 403, "insufficient_scope").await;
    let other = app
        .token(Some("clients:read clients:write clients:delete"))
        .await;
    expect_error(
        app.get("/api/connections", &other).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("connections:write")).await;
    let created = create(
        &app,
        &writer,
        &json!({"strategy": "google", "client_id": "c"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created = jsonapi(created).await;
    let id = created["data"]["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/connections/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let patched = app
        .patch(
            &format!("/api/connections/{id}"),
            &read_only,
            &json!({"data": {"type": "connection", "id": id, "attributes": {"enforce_sso": true}}}),
        )
        .await;
    expect_error(patched, 403, "insufficient_scope").await;
    expect_error(
        app.delete(&format!("/api/connections/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("connections:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/connections/{id}"), &deleter)
            .await
            .status(),
        204
    );
    let response = app
        .client
        .put(format!("{}/api/connections/{id}", app.base))
        .bearer_auth(&deleter)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, PATCH, DELETE");
}

on_both_stores!(
    a_connection_goes_through_create_read_update_and_delete,
    discovery_url_rules_follow_the_strategy,
    the_strategy_is_fixed_and_bad_input_changes_nothing,
    lists_page_by_cursor_in_both_orders,
    scopes_gate_each_method,
);
