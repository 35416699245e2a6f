//! The webhooks collection end to end: the signing secret shown only by
//! create and rotate_secret and stored encrypted, `events` checked against
//! the catalog with a pointer per unknown name, the URL rules and the
//! private-address guard, events in the same transaction, scopes.

use base64::Engine as _;
use portcullis_adapters_crypto::AesGcmCipher;
use portcullis_adapters_postgres::Backend;
use portcullis_ports::crypto::SecretCipher as _;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

const URL: &str = "https://hooks.example.com/portcullis";

fn document(attributes: &Value) -> Value {
    json!({"data": {"type": "webhook", "attributes": attributes}})
}

async fn create(app: &TestApp, token: &str, attributes: &Value) -> reqwest::Response {
    app.post("/api/webhooks", token, &document(attributes))
        .await
}

/// The raw `signing_secret` column of every webhook, as lower-case hex.
fn stored_secrets(app: &TestApp) -> Vec<String> {
    let sql = match app.db.backend() {
        Backend::Postgres => {
            "SELECT encode(signing_secret, 'hex') AS value FROM webhooks ORDER BY id"
        }
        Backend::Sqlite => "SELECT lower(hex(signing_secret)) AS value FROM webhooks ORDER BY id",
    };
    app.db.texts(sql)
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn assert_secret_shape(secret: &str) {
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .expect("standard base64");
    assert_eq!(bytes.len(), 32);
}

async fn a_webhook_goes_through_create_read_update_rotate_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = create(
        &app,
        &token,
        &json!({"name": " Billing ", "url": URL, "events": ["user.created", "user.deleted", "user.created"]}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/webhooks/{id}", app.base));
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["name"], "Billing");
    assert_eq!(attributes["url"], URL);
    assert_eq!(
        attributes["events"],
        json!(["user.created", "user.deleted"])
    );
    assert_eq!(attributes["active"], true);
    let secret = attributes["signing_secret"].as_str().unwrap().to_owned();
    assert_secret_shape(&secret);

    // Stored encrypted under the master key, never in clear.
    let sealed = unhex(&stored_secrets(&app)[0]);
    assert_ne!(sealed, secret.as_bytes());
    let opened = AesGcmCipher::new(&app.master_key).decrypt(&sealed).unwrap();
    assert_eq!(opened.expose_secret(), secret.as_bytes());

    // No read shows it again.
    let fetched = app.get(&format!("/api/webhooks/{id}"), &token).await;
    assert_eq!(fetched.status(), 200);
    let text = fetched.text().await.unwrap();
    assert!(
        !text.contains(&secret) && !text.contains("signing_secret"),
        "{text}"
    );
    let listed = app.get("/api/webhooks", &token).await.text().await.unwrap();
    assert!(
        !listed.contains(&secret) && listed.contains(&id),
        "{listed}"
    );

    let updated = app
        .patch(
            &format!("/api/webhooks/{id}"),
            &token,
            &json!({"data": {"type": "webhook", "id": id, "attributes": {
                "events": ["role.created"], "active": false, "name": "Roles"}}}),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated = jsonapi(updated).await;
    assert_eq!(
        updated["data"]["attributes"]["events"],
        json!(["role.created"])
    );
    assert_eq!(updated["data"]["attributes"]["active"], false);
    assert!(
        updated["data"]["attributes"]
            .get("signing_secret")
            .is_none()
    );

    let rotated = app
        .client
        .patch(format!("{}/api/webhooks/{id}/rotate_secret", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated = jsonapi(rotated).await;
    let new_secret = rotated["data"]["attributes"]["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_secret_shape(&new_secret);
    assert_ne!(new_secret, secret);
    let sealed = unhex(&stored_secrets(&app)[0]);
    let opened = AesGcmCipher::new(&app.master_key).decrypt(&sealed).unwrap();
    assert_eq!(opened.expose_secret(), new_secret.as_bytes());

    assert_eq!(
        app.delete(&format!("/api/webhooks/{id}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/webhooks/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("webhook"),
        [
            "webhook.created",
            "webhook.updated",
            "webhook.secret_rotated",
            "webhook.deleted"
        ]
    );
    for data in app.db.event_data("webhook") {
        assert!(
            !data.contains(&secret)
                && !data.contains(&new_secret)
                && !data.contains("signing_secret"),
            "{data}"
        );
    }
}

async fn bad_input_is_refused_with_a_pointer_and_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = create(
        &app,
        &token,
        &json!({"name": "x", "url": URL, "events": ["user.created", "user.exploded", "nope"]}),
    )
    .await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{body}");
    assert_eq!(errors[0]["code"], "unknown_event_type");
    assert_eq!(errors[0]["source"]["pointer"], "/data/attributes/events/1");
    assert_eq!(errors[1]["source"]["pointer"], "/data/attributes/events/2");

    for (url, code) in [
        ("http://hooks.example.com/", "url_not_https"),
        ("https://127.0.0.1/hook", "url_private_target"),
        ("https://10.0.0.7/hook", "url_private_target"),
        ("https://169.254.169.254/latest", "url_private_target"),
        ("https://[::1]/hook", "url_private_target"),
        ("https://localhost/hook", "url_private_target"),
        ("not a url", "invalid_url"),
    ] {
        let error = expect_error(
            create(
                &app,
                &token,
                &json!({"name": "x", "url": url, "events": ["user.created"]}),
            )
            .await,
            422,
            code,
        )
        .await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/url", "{url}");
    }
    let error = expect_error(
        create(
            &app,
            &token,
            &json!({"url": URL, "events": ["user.created"]}),
        )
        .await,
        422,
        "name_required",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let error = expect_error(
        create(
            &app,
            &token,
            &json!({"name": "x", "url": URL, "events": []}),
        )
        .await,
        422,
        "events_required",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/events");
    let error = expect_error(
        create(
            &app,
            &token,
            &json!({"name": "x", "url": URL, "events": ["user.created"], "signing_secret": "whsec_x"}),
        )
        .await,
        422,
        "read_only_attribute",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/signing_secret"
    );
    let error = expect_error(
        create(
            &app,
            &token,
            &json!({"name": "x", "url": URL, "events": "user.created"}),
        )
        .await,
        422,
        "invalid_type",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/events");
    expect_error(
        create(
            &app,
            &token,
            &json!({"name": "x", "url": null, "events": ["user.created"]}),
        )
        .await,
        422,
        "null_not_allowed",
    )
    .await;
    assert!(app.db.event_types("webhook").is_empty());
    assert!(stored_secrets(&app).is_empty());

    let created = jsonapi(
        create(
            &app,
            &token,
            &json!({"name": "x", "url": URL, "events": ["user.created"]}),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap();
    let response = app
        .patch(
            &format!("/api/webhooks/{id}"),
            &token,
            &json!({"data": {"type": "webhook", "id": id, "attributes": {"events": ["bogus"]}}}),
        )
        .await;
    let error = expect_error(response, 422, "unknown_event_type").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/events/0");
    let fetched = jsonapi(app.get(&format!("/api/webhooks/{id}"), &token).await).await;
    assert_eq!(
        fetched["data"]["attributes"]["events"],
        json!(["user.created"])
    );
    expect_error(
        app.get("/api/webhooks/01ARZ3NDEKTSV4RRFFQ69G5FAV", &token)
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(
            "/api/webhooks/01ARZ3NDEKTSV4RRFFQ69G5FAV/deliveries",
            &token,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let read_only = app.token(Some("webhooks:read")).await;
    assert_eq!(app.get("/api/webhooks", &read_only).await.status(), 200);
    let body = json!({"name": "x", "url": URL, "events": ["user.created"]});
    expect_error(
        create(&app, &read_only, &body).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("webhooks:write")).await;
    let created = jsonapi(create(&app, &writer, &body).await).await;
    let id = created["data"]["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/webhooks/{id}/deliveries"), &writer)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/webhooks/{id}/deliveries"), &read_only)
            .await
            .status(),
        200
    );
    let rotated = app
        .client
        .patch(format!("{}/api/webhooks/{id}/rotate_secret", app.base))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    expect_error(rotated, 403, "insufficient_scope").await;
    expect_error(
        app.delete(&format!("/api/webhooks/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("webhooks:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/webhooks/{id}"), &deleter)
            .await
            .status(),
        204
    );
}

/// Issue 14: URLs whose literal host is special-purpose (IPv4-compatible,
/// NAT64, 6to4, benchmarking, reserved) with the block each must name.
const SPECIAL_PURPOSE: &[(&str, &str)] = &[
    ("https://[::127.0.0.1]/", "::/96"),
    ("https://[64:ff9b::7f00:1]/", "64:ff9b::/96"),
    ("https://[2002:7f00:1::1]/", "2002::/16"),
    ("https://198.18.0.1/", "198.18.0.0/15"),
    ("https://240.0.0.1/", "240.0.0.0/4"),
];

/// Special-purpose targets are refused when a webhook is created or updated
/// (422 `url_private_target`, nothing stored, no event), and a stored row
/// that points at one anyway (written before this rule, or while
/// `allow_private_targets` was on) is never connected to: its attempt is
/// recorded at once with the refusing block and no status code.
async fn special_purpose_targets_are_refused_when_written_and_when_delivered(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for (url, _) in SPECIAL_PURPOSE {
        let error = expect_error(
            create(
                &app,
                &token,
                &json!({"name": "x", "url": url, "events": ["user.created"]}),
            )
            .await,
            422,
            "url_private_target",
        )
        .await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/url", "{url}");
    }
    assert!(stored_secrets(&app).is_empty(), "nothing was created");
    assert!(app.db.event_types("webhook").is_empty());

    let mut ids = Vec::new();
    for _ in SPECIAL_PURPOSE {
        let created = jsonapi(
            create(
                &app,
                &token,
                &json!({"name": "x", "url": URL, "events": ["user.created"]}),
            )
            .await,
        )
        .await;
        ids.push(created["data"]["id"].as_str().unwrap().to_owned());
    }
    for ((url, _), id) in SPECIAL_PURPOSE.iter().zip(&ids) {
        let response = app
            .patch(
                &format!("/api/webhooks/{id}"),
                &token,
                &json!({"data": {"type": "webhook", "id": id, "attributes": {"url": url}}}),
            )
            .await;
        expect_error(response, 422, "url_private_target").await;
        let fetched = jsonapi(app.get(&format!("/api/webhooks/{id}"), &token).await).await;
        assert_eq!(fetched["data"]["attributes"]["url"], URL, "{url}");
    }
    assert_eq!(
        app.db.event_types("webhook").len(),
        ids.len(),
        "no update event"
    );

    // Rows that point there anyway: the delivery guard refuses them.
    for ((url, _), id) in SPECIAL_PURPOSE.iter().zip(&ids) {
        let updated = app.db.texts(&format!(
            "UPDATE webhooks SET url = '{url}' WHERE id = '{id}' RETURNING id AS value"
        ));
        assert_eq!(updated.len(), 1);
    }
    app.create_user(&token, "guarded@example.com").await;
    for ((url, block), id) in SPECIAL_PURPOSE.iter().zip(&ids) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let attempts = loop {
            let response = app
                .get(&format!("/api/webhooks/{id}/deliveries"), &token)
                .await;
            let listed = jsonapi(response).await["data"].as_array().unwrap().clone();
            if !listed.is_empty() {
                break listed;
            }
            assert!(std::time::Instant::now() < deadline, "{url}: no attempt");
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let attempt = &attempts[0]["attributes"];
        assert!(attempt["status_code"].is_null(), "{url}: {attempt}");
        assert_eq!(attempt["duration_ms"], 0, "{url}: no connection was tried");
        let error = attempt["error"].as_str().unwrap();
        assert!(
            error.contains("not a globally reachable address") && error.contains(block),
            "{url}: {error}"
        );
    }
}

on_both_stores!(
    a_webhook_goes_through_create_read_update_rotate_and_delete,
    bad_input_is_refused_with_a_pointer_and_changes_nothing,
    scopes_gate_each_method,
    special_purpose_targets_are_refused_when_written_and_when_delivered,
);
