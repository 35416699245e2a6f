//! Webhook delivery end to end: the real server's worker delivering to a
//! real receiver on 127.0.0.1 that is up, erroring then recovering, down
//! then back, slow, or slower than the timeout; signatures verified with an
//! independent HMAC; every attempt visible at `/api/webhooks/{id}/deliveries`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::receiver::{Receiver, eventually, free_port, verify, verify_with_standardwebhooks};
use crate::support::{Store, TestApp, jsonapi, spawn_app_with};

async fn delivery_app(store: Store, horizon_seconds: u64) -> TestApp {
    spawn_app_with(store, |settings| {
        let hooks = &mut settings.webhooks;
        hooks.allow_private_targets = true;
        hooks.request_timeout_ms = 1000;
        hooks.initial_backoff_ms = 100;
        hooks.max_backoff_seconds = 1;
        hooks.poll_interval_ms = 20;
        hooks.concurrency = 16;
        hooks.retry_horizon_seconds = horizon_seconds;
    })
    .await
}

/// Creates a webhook; returns its id and signing secret.
async fn subscribe(app: &TestApp, token: &str, url: &str, events: &[&str]) -> (String, String) {
    let response = app
        .post(
            "/api/webhooks",
            token,
            &json!({"data": {"type": "webhook", "attributes": {"name": "test", "url": url, "events": events}}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body = jsonapi(response).await;
    (
        body["data"]["id"].as_str().unwrap().to_owned(),
        body["data"]["attributes"]["signing_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn attempts(app: &TestApp, token: &str, webhook: &str) -> Vec<Value> {
    let response = app
        .get(
            &format!("/api/webhooks/{webhook}/deliveries?page[size]=500"),
            token,
        )
        .await;
    assert_eq!(response.status(), 200);
    jsonapi(response).await["data"].as_array().unwrap().clone()
}

async fn events_reach_a_receiver_signed_and_once_each(store: Store) {
    let receiver = Receiver::start();
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    let (webhook, secret) = subscribe(&app, &token, &receiver.url("/ok"), &["user.created"]).await;
    let emails: Vec<String> = (0..3).map(|i| format!("u{i}@example.com")).collect();
    for email in &emails {
        app.create_user(&token, email).await;
    }
    // Not subscribed: never delivered.
    app.create_role(&token, "not-delivered").await;
    assert!(
        eventually(Duration::from_secs(10), || receiver.received("/ok").len()
            >= 3)
        .await
    );
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received("/ok");
    assert_eq!(
        received.len(),
        3,
        "exactly once each while the receiver is healthy"
    );
    let mut seen = Vec::new();
    for request in &received {
        assert!(verify(&secret, request), "signature of {request:?}");
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["type"], "user.created");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(body["data"]["type"], "user");
        seen.push(
            body["data"]["attributes"]["email"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        let at: i64 = request.timestamp.parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!((i64::try_from(now).unwrap() - at).abs() < 30);
    }
    // Deliveries claimed together are sent concurrently: no order across resources.
    seen.sort();
    assert_eq!(seen, emails, "each event once");
    match verify_with_standardwebhooks(&secret, &received) {
        Some(verified) => assert!(
            verified,
            "the Standard Webhooks library refused our requests"
        ),
        None => {
            eprintln!("python3 -m standardwebhooks not installed: reference-library check skipped")
        }
    }
    let ids: BTreeSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), 3);
    let listed = attempts(&app, &token, &webhook).await;
    assert_eq!(listed.len(), 3);
    for attempt in &listed {
        let attributes = &attempt["attributes"];
        assert_eq!(attempt["type"], "webhook_delivery");
        assert_eq!(attributes["outcome"], "succeeded");
        assert_eq!(attributes["status_code"], 204);
        assert_eq!(attributes["attempt"], 1);
        assert!(attributes["error"].is_null());
        assert!(attributes["duration_ms"].is_u64());
        assert!(ids.contains(attributes["event_id"].as_str().unwrap()));
    }
    receiver.stop().await;
}

async fn an_erroring_receiver_is_retried_until_it_recovers(store: Store) {
    let receiver = Receiver::start();
    *receiver.shared.flaky_failures.lock().unwrap() = 2;
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    let (webhook, secret) =
        subscribe(&app, &token, &receiver.url("/flaky"), &["user.created"]).await;
    app.create_user(&token, "flaky@example.com").await;
    assert!(
        eventually(Duration::from_secs(10), || receiver
            .received("/flaky")
            .len()
            >= 3)
        .await
    );
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let received = receiver.received("/flaky");
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|r| r.id == received[0].id),
        "one webhook-id across retries"
    );
    assert!(received.iter().all(|r| verify(&secret, r)));
    let listed = attempts(&app, &token, &webhook).await;
    let summary: Vec<(u64, Value, String)> = listed
        .iter()
        .map(|a| {
            let at = &a["attributes"];
            (
                at["attempt"].as_u64().unwrap(),
                at["status_code"].clone(),
                at["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, json!(503), "retrying".to_owned()),
            (2, json!(503), "retrying".to_owned()),
            (3, json!(204), "succeeded".to_owned()),
        ]
    );
    assert!(
        listed[0]["attributes"]["error"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    receiver.stop().await;
}

async fn a_receiver_that_is_down_gets_every_event_once_it_returns(store: Store) {
    let port = free_port();
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    let url = format!("http://127.0.0.1:{port}/ok");
    let (webhook, _) = subscribe(&app, &token, &url, &["user.created"]).await;
    for i in 0..5 {
        app.create_user(&token, &format!("down{i}@example.com"))
            .await;
    }
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    let failed = attempts(&app, &token, &webhook).await;
    assert!(!failed.is_empty());
    for attempt in &failed {
        assert_eq!(attempt["attributes"]["outcome"], "retrying");
        assert!(attempt["attributes"]["status_code"].is_null());
        assert!(attempt["attributes"]["error"].as_str().unwrap().len() > 3);
    }
    let receiver = Receiver::start_on(port);
    assert!(
        eventually(Duration::from_secs(10), || {
            receiver
                .received("/ok")
                .iter()
                .map(|r| r.id.clone())
                .collect::<BTreeSet<_>>()
                .len()
                == 5
        })
        .await,
        "every event arrives once the receiver is back"
    );
    receiver.stop().await;
}

async fn a_slow_receiver_holds_up_neither_the_others_nor_the_api(store: Store) {
    let receiver = Receiver::start();
    *receiver.shared.slow.lock().unwrap() = Duration::from_millis(900);
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    subscribe(&app, &token, &receiver.url("/slow"), &["user.created"]).await;
    subscribe(&app, &token, &receiver.url("/ok"), &["user.created"]).await;
    let start = Instant::now();
    for i in 0..4 {
        app.create_user(&token, &format!("slow{i}@example.com"))
            .await;
    }
    assert!(
        eventually(Duration::from_secs(5), || receiver.received("/ok").len()
            >= 4)
        .await
    );
    let fast_done = start.elapsed();
    // The slow receiver has not answered a single one yet when the fast one has them all.
    assert!(
        fast_done < Duration::from_millis(900),
        "fast receiver waited {fast_done:?}"
    );
    // The API is not held up by deliveries in flight either.
    let api = Instant::now();
    app.create_user(&token, "during@example.com").await;
    assert!(
        api.elapsed() < Duration::from_millis(800),
        "{:?}",
        api.elapsed()
    );
    assert!(
        eventually(Duration::from_secs(10), || receiver.received("/slow").len()
            >= 5)
        .await
    );
    receiver.stop().await;
}

async fn a_receiver_slower_than_the_timeout_is_retried_then_failed_at_the_horizon(store: Store) {
    let receiver = Receiver::start();
    *receiver.shared.slow.lock().unwrap() = Duration::from_millis(1500);
    let app = delivery_app(store, 2).await;
    let token = app.token(None).await;
    let (webhook, _) = subscribe(&app, &token, &receiver.url("/slow"), &["user.created"]).await;
    app.create_user(&token, "timeout@example.com").await;
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = attempts(&app, &token, &webhook).await;
        if listed
            .last()
            .is_some_and(|a| a["attributes"]["outcome"] == "failed")
        {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let last = listed.last().expect("attempts");
    assert_eq!(last["attributes"]["outcome"], "failed", "{listed:?}");
    for attempt in &listed {
        let at = &attempt["attributes"];
        assert!(at["status_code"].is_null());
        assert!(at["error"].as_str().unwrap().contains("timed out"), "{at}");
        assert!(at["duration_ms"].as_u64().unwrap() >= 900);
    }
    let count = listed.len();
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        attempts(&app, &token, &webhook).await.len(),
        count,
        "no attempt after failed"
    );
    receiver.stop().await;
}

async fn inactive_and_deleted_webhooks_get_nothing(store: Store) {
    let receiver = Receiver::start();
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    let (webhook, _) = subscribe(&app, &token, &receiver.url("/ok"), &["user.created"]).await;
    let response = app
        .patch(
            &format!("/api/webhooks/{webhook}"),
            &token,
            &json!({"data": {"type": "webhook", "id": webhook, "attributes": {"active": false}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    app.create_user(&token, "inactive@example.com").await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.received("/ok").is_empty());
    assert!(attempts(&app, &token, &webhook).await.is_empty());
    assert_eq!(
        app.delete(&format!("/api/webhooks/{webhook}"), &token)
            .await
            .status(),
        204
    );
    app.create_user(&token, "deleted@example.com").await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received("/ok").is_empty());
    receiver.stop().await;
}

/// Issue 14: a webhook whose receiver never answers in time, with a
/// backlog, holds at most its own slots (`concurrency_per_webhook`) and its
/// environment at most `concurrency_per_environment`: another webhook of
/// the same environment and another environment's webhook are served at
/// once. (Before, the backlog took every slot for the whole request
/// timeout, 60 s here, so the others waited that long.)
async fn a_slow_receiver_with_a_backlog_holds_only_its_own_slots(store: Store) {
    let receiver = Receiver::start();
    // Neither answers nor times out while the test runs.
    *receiver.shared.slow.lock().unwrap() = Duration::from_secs(120);
    let app = spawn_app_with(store, |settings| {
        let hooks = &mut settings.webhooks;
        hooks.allow_private_targets = true;
        hooks.request_timeout_ms = 60_000;
        hooks.poll_interval_ms = 20;
        hooks.concurrency = 4;
        hooks.concurrency_per_webhook = 2;
        hooks.concurrency_per_environment = 3;
    })
    .await;
    let token = app.token(None).await;
    subscribe(&app, &token, &receiver.url("/slow"), &["user.created"]).await;
    subscribe(&app, &token, &receiver.url("/ok"), &["user.created"]).await;
    for i in 0..12 {
        app.create_user(&token, &format!("backlog{i}@example.com"))
            .await;
    }
    assert!(
        eventually(Duration::from_secs(10), || receiver.received("/slow").len()
            >= 2)
        .await,
        "the slow receiver gets its share"
    );
    assert!(
        eventually(Duration::from_secs(10), || receiver.received("/ok").len()
            >= 12)
        .await,
        "the other webhook of the same environment is not held up: {} of 12",
        receiver.received("/ok").len()
    );

    // Another environment's event, while the backlog is still there.
    let staging = app.create_staging().await;
    let staging_token = app.staging_token().await;
    let staging_post = |path: &str, body: Value| {
        app.client
            .post(format!("{staging}{path}"))
            .bearer_auth(&staging_token)
            .header("content-type", crate::support::JSONAPI)
            .body(body.to_string())
            .send()
    };
    let created = staging_post(
        "/api/webhooks",
        json!({"data": {"type": "webhook", "attributes": {
            "name": "staging", "url": receiver.url("/staging"), "events": ["user.created"]}}}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let start = Instant::now();
    let created = staging_post(
        "/api/users",
        json!({"data": {"type": "user", "attributes": {"email": "staging@example.com"}}}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    assert!(
        eventually(Duration::from_secs(10), || !receiver
            .received("/staging")
            .is_empty())
        .await,
        "the staging event waited behind the default environment's slow receiver"
    );
    let waited = start.elapsed();
    // Generous against a 60 s request timeout that held every slot before.
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(
        receiver.received("/slow").len(),
        2,
        "the slow webhook never held more than its two slots"
    );
    eprintln!(
        "staging event delivered {waited:?} after it was created, beside a backlog of 10 held"
    );
    receiver.stop().await;
}

on_both_stores!(
    a_slow_receiver_with_a_backlog_holds_only_its_own_slots,
    events_reach_a_receiver_signed_and_once_each,
    an_erroring_receiver_is_retried_until_it_recovers,
    a_receiver_that_is_down_gets_every_event_once_it_returns,
    a_slow_receiver_holds_up_neither_the_others_nor_the_api,
    a_receiver_slower_than_the_timeout_is_retried_then_failed_at_the_horizon,
    inactive_and_deleted_webhooks_get_nothing,
);

/// After create and rotate_secret, neither secret is in any later response,
/// any event, or any line the server logs (at every level) while it
/// delivers, retries and lists attempts.
async fn no_log_event_or_later_response_carries_a_signing_secret(store: Store) {
    let logs = crate::secrets::capture_logs();
    let receiver = Receiver::start();
    *receiver.shared.flaky_failures.lock().unwrap() = 1;
    let app = delivery_app(store, 60).await;
    let token = app.token(None).await;
    let (webhook, first) =
        subscribe(&app, &token, &receiver.url("/flaky"), &["user.created"]).await;
    let rotated = app
        .client
        .patch(format!("{}/api/webhooks/{webhook}/rotate_secret", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let rotated = jsonapi(rotated).await;
    let second = rotated["data"]["attributes"]["signing_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    app.create_user(&token, "secret-check@example.com").await;
    assert!(
        eventually(Duration::from_secs(10), || receiver
            .received("/flaky")
            .len()
            >= 2)
        .await
    );
    assert!(
        receiver
            .received("/flaky")
            .iter()
            .all(|r| verify(&second, r)),
        "signed with the rotated secret"
    );
    let mut later = Vec::new();
    for path in [
        format!("/api/webhooks/{webhook}"),
        "/api/webhooks".to_owned(),
        format!("/api/webhooks/{webhook}/deliveries"),
    ] {
        later.push(app.get(&path, &token).await.text().await.unwrap());
    }
    later.extend(app.db.event_data("webhook"));
    later.extend(app.db.event_data("user"));
    let captured = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        captured.contains("webhook delivery attempt"),
        "logs were captured"
    );
    later.push(captured);
    for text in &later {
        for secret in [&first, &second] {
            let key = secret.strip_prefix("whsec_").unwrap();
            assert!(!text.contains(key), "a signing secret leaked: {text}");
        }
    }
    receiver.stop().await;
}

mod secrets_kept {
    use super::no_log_event_or_later_response_carries_a_signing_secret as body;
    #[actix_web::test]
    async fn postgres() {
        body(crate::support::Store::Postgres).await;
    }
    #[actix_web::test]
    async fn sqlite() {
        body(crate::support::Store::Sqlite).await;
    }
}
