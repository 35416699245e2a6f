//! Every failure is a JSON:API error, including actix's own.

use serde_json::json;

use crate::on_both_stores;
use crate::support::{Store, expect_error, spawn_app};

async fn routing_media_type_body_and_size_errors_are_jsonapi(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;

    expect_error(app.get("/api/nothing-here", &token).await, 404, "not_found").await;
    expect_error(app.get("/nowhere", &token).await, 404, "not_found").await;

    let wrong_method = app
        .client
        .put(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()["allow"], "GET, POST");
    expect_error(wrong_method, 405, "method_not_allowed").await;
    let wrong_method = app
        .client
        .get(format!("{}/oauth/token", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.headers()["allow"], "POST");
    expect_error(wrong_method, 405, "method_not_allowed").await;

    let text = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(text, 415, "unsupported_media_type").await;

    let plain_json = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(
            json!({"data": {"type": "user", "attributes": {"email": "plain@example.com"}}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(plain_json.status(), 201, "application/json is accepted too");

    // As docs/api-conventions.md and docs/decisions.md say: JSON:API's media
    // type takes only `ext` and `profile` (JSON:API 1.1 requires the 415);
    // plain JSON takes any parameter.
    let with_charset = |media_type: &'static str, email: &str| {
        app.client
            .post(format!("{}/api/users", app.base))
            .bearer_auth(&token)
            .header("content-type", media_type)
            .body(json!({"data": {"type": "user", "attributes": {"email": email}}}).to_string())
            .send()
    };
    let refused = with_charset(
        "application/vnd.api+json; charset=utf-8",
        "charset@example.com",
    )
    .await
    .unwrap();
    let error = expect_error(refused, 415, "unsupported_media_type").await;
    assert_eq!(error["source"]["header"], "Content-Type");
    let profiled = with_charset(
        "application/vnd.api+json; profile=\"https://example.com/p\"",
        "profile@example.com",
    )
    .await
    .unwrap();
    assert_eq!(profiled.status(), 201, "`profile` is allowed");
    let json_charset = with_charset("application/json; charset=utf-8", "charset@example.com")
        .await
        .unwrap();
    assert_eq!(json_charset.status(), 201, "plain JSON with a charset");

    let malformed = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .body("{\"data\": ")
        .send()
        .await
        .unwrap();
    expect_error(malformed, 400, "malformed_json").await;

    let empty = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/vnd.api+json")
        .send()
        .await
        .unwrap();
    expect_error(empty, 400, "missing_document").await;

    let huge = json!({"data": {"type": "user", "attributes": {"email": "big@example.com", "first_name": "x".repeat(70 * 1024)}}});
    expect_error(
        app.post("/api/users", &token, &huge).await,
        413,
        "payload_too_large",
    )
    .await;
}

async fn unauthenticated_requests_are_401_before_anything_else(store: Store) {
    let app = spawn_app(store).await;
    let response = app
        .client
        .post(format!("{}/api/users", app.base))
        .body("not even json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .split(',')
            .next()
            .unwrap(),
        "Bearer error=\"invalid_token\""
    );
    let error = expect_error(response, 401, "invalid_token").await;
    assert_eq!(error["source"]["header"], "Authorization");
}

async fn probes_answer_and_requests_carry_an_id(store: Store) {
    let app = spawn_app(store).await;
    let live = app
        .client
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["x-request-id"].len(), 26);
    let ready = app
        .client
        .get(format!("{}/health/ready", app.base))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers()["x-request-id"], "trace-me-123");
}

on_both_stores!(
    routing_media_type_body_and_size_errors_are_jsonapi,
    unauthenticated_requests_are_401_before_anything_else,
    probes_answer_and_requests_carry_an_id,
);
