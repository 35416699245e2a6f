//! The signing-keys collection end to end, with the key cache following every change.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, expect_error, jsonapi, jwt_segment, spawn_app};

fn kid_of(token: &str) -> String {
    jwt_segment(token, 0)["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn keys(app: &TestApp, token: &str) -> Vec<Value> {
    jsonapi(app.get("/api/signing-keys", token).await).await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn rotation_follows_the_rules_and_the_cache_follows_rotation(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let initial = keys(&app, &token).await;
    assert_eq!(initial.len(), 1);
    let first = &initial[0];
    let first_id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["type"], "signing_key");
    assert_eq!(first["attributes"]["algorithm"], "RS256");
    assert_eq!(first["attributes"]["status"], "active");
    assert_eq!(first["attributes"]["primary"], true);
    assert_eq!(first["attributes"]["public_jwk"]["kty"], "RSA");
    assert!(first["attributes"].get("private_key").is_none());
    assert!(!first.to_string().contains("PRIVATE"));
    let first_kid = first["attributes"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(kid_of(&token), first_kid);

    // An empty body generates a key that becomes primary at once.
    let response = app
        .client
        .post(format!("{}/api/signing-keys", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let second = jsonapi(response).await["data"].clone();
    let second_id = second["id"].as_str().unwrap().to_owned();
    let second_kid = second["attributes"]["kid"].as_str().unwrap().to_owned();
    assert_eq!(second["attributes"]["primary"], true);
    let fetched_first = jsonapi(
        app.get(&format!("/api/signing-keys/{first_id}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched_first["data"]["attributes"]["primary"], false);
    assert_eq!(published_kids(&app).await.len(), 2);
    let new_token = app.token(None).await;
    assert_eq!(
        kid_of(&new_token),
        second_kid,
        "new tokens use the new primary"
    );
    assert_eq!(
        app.get("/api/users", &token).await.status(),
        200,
        "old key still verifies"
    );

    // An empty resource document is accepted too.
    let third = app
        .post(
            "/api/signing-keys",
            &new_token,
            &json!({"data": {"type": "signing_key"}}),
        )
        .await;
    assert_eq!(third.status(), 201);
    let third_id = jsonapi(third).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Deactivating the primary promotes the newest other active key.
    let deactivated = app
        .client
        .patch(format!(
            "{}/api/signing-keys/{third_id}/deactivate",
            app.base
        ))
        .bearer_auth(&new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deactivated.status(), 200);
    let deactivated = jsonapi(deactivated).await;
    assert_eq!(deactivated["data"]["attributes"]["status"], "inactive");
    assert!(deactivated["data"]["attributes"]["deactivated_at"].is_string());
    let promoted = jsonapi(
        app.get(&format!("/api/signing-keys/{second_id}"), &new_token)
            .await,
    )
    .await;
    assert_eq!(promoted["data"]["attributes"]["primary"], true);

    // Tokens signed by a deactivated key stop working at once.
    let deactivate_first = app
        .client
        .patch(format!(
            "{}/api/signing-keys/{first_id}/deactivate",
            app.base
        ))
        .bearer_auth(&new_token)
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate_first.status(), 200);
    expect_error(app.get("/api/users", &token).await, 401, "invalid_token").await;
    assert_eq!(published_kids(&app).await, vec![second_kid.clone()]);
    assert_eq!(app.get("/api/users", &new_token).await.status(), 200);

    // The last active key stays; active keys cannot be deleted; inactive ones can.
    let last = app
        .client
        .patch(format!(
            "{}/api/signing-keys/{second_id}/deactivate",
            app.base
        ))
        .bearer_auth(&new_token)
        .send()
        .await
        .unwrap();
    expect_error(last, 409, "last_active_key").await;
    let again = app
        .client
        .patch(format!(
            "{}/api/signing-keys/{first_id}/deactivate",
            app.base
        ))
        .bearer_auth(&new_token)
        .send()
        .await
        .unwrap();
    expect_error(again, 409, "key_inactive").await;
    expect_error(
        app.delete(&format!("/api/signing-keys/{second_id}"), &new_token)
            .await,
        409,
        "key_active",
    )
    .await;
    assert_eq!(
        app.delete(&format!("/api/signing-keys/{first_id}"), &new_token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/signing-keys/{first_id}"), &new_token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(keys(&app, &new_token).await.len(), 2);

    let bad_body = app
        .post(
            "/api/signing-keys",
            &new_token,
            &json!({"data": {"type": "signing_key", "attributes": {"kid": "mine"}}}),
        )
        .await;
    expect_error(bad_body, 400, "unknown_attribute").await;
    expect_error(
        app.get("/api/signing-keys/not-a-ulid", &new_token).await,
        404,
        "not_found",
    )
    .await;
}

async fn listing_keys_pages_by_cursor(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for _ in 0..2 {
        let response = app
            .client
            .post(format!("{}/api/signing-keys", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let first = jsonapi(
        app.client
            .get(format!("{}/api/signing-keys?page%5Bsize%5D=2", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let next = first["links"]["next"].as_str().unwrap();
    let second = jsonapi(
        app.client
            .get(next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert!(second["links"].get("next").is_none());
    let scoped = app.token(Some("users:read")).await;
    expect_error(
        app.get("/api/signing-keys", &scoped).await,
        403,
        "insufficient_scope",
    )
    .await;
}

on_both_stores!(
    rotation_follows_the_rules_and_the_cache_follows_rotation,
    listing_keys_pages_by_cursor
);
