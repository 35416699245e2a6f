//! A database outage: every request that needs the store is a JSON:API 503,
//! the server keeps running, and it recovers by itself.

use std::time::{Duration, Instant};

use crate::support::{Store, expect_error, spawn_app};

#[actix_web::test]
async fn an_unreachable_database_is_503_and_the_server_recovers_by_itself() {
    let app = spawn_app(Store::Postgres).await;
    let token = app.token(None).await;
    let id = app.create_user(&token, "outage@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/users/{id}");

    app.db.set_reachable(false);
    let during = app.get(&path, &token).await;
    assert_eq!(during.headers()["retry-after"], "1");
    expect_error(during, 503, "store_unavailable").await;
    let ready = app
        .client
        .get(format!("{}/health/ready", app.base))
        .send()
        .await
        .unwrap();
    expect_error(ready, 503, "store_unavailable").await;
    let live = app
        .client
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200, "the process stays up");
    // A client this node already knows still gets tokens (its grant and the
    // keys are in memory); one it must look up gets a 503.
    assert_eq!(app.token_response(&[]).await.status(), 200);
    let unknown = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "someone-else"),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 503);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    app.db.set_reachable(true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.get(&path, &token).await;
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503, "only 503 while recovering");
        assert!(Instant::now() < deadline, "the store did not recover");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = app
        .client
        .get(format!("{}/health/ready", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
