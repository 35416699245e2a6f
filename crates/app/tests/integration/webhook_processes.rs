//! Webhook delivery across real `portcullis` processes on one PostgreSQL
//! database: a server killed with SIGKILL mid-delivery delivers the pending
//! events after a restart, and two servers deliver each event once.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use portcullis_adapters_postgres::testing::TestDatabase;
use serde_json::{Value, json};

use crate::receiver::{Receiver, eventually, free_port};
use crate::support::{CLIENT_ID, CLIENT_SECRET, JSONAPI};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(db: &TestDatabase, master_key: &str, dir: &std::path::Path, name: &str) -> Server {
    let port = free_port();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(BIN)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_SECURITY__BCRYPT_COST", "4")
        .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_DATABASE__URL", &db.url)
        .env("PORTCULLIS_DATABASE__POOL_SIZE", "4")
        .env("PORTCULLIS_SECRETS__MASTER_KEY", master_key)
        .env("PORTCULLIS_BOOTSTRAP__CLIENT_ID", CLIENT_ID)
        .env("PORTCULLIS_BOOTSTRAP__CLIENT_SECRET", CLIENT_SECRET)
        .env("PORTCULLIS_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
        .env("PORTCULLIS_WEBHOOKS__REQUEST_TIMEOUT_MS", "1000")
        .env("PORTCULLIS_WEBHOOKS__INITIAL_BACKOFF_MS", "100")
        .env("PORTCULLIS_WEBHOOKS__MAX_BACKOFF_SECONDS", "1")
        .env("PORTCULLIS_WEBHOOKS__POLL_INTERVAL_MS", "20")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    Server {
        child,
        base: format!("http://localhost:{port}"),
        client,
    }
}

impl Server {
    async fn ready(&self) {
        let ok = async {
            for _ in 0..300 {
                if let Ok(response) = self
                    .client
                    .get(format!("{}/health/ready", self.base))
                    .send()
                    .await
                    && response.status() == 200
                {
                    return true;
                }
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
            false
        }
        .await;
        assert!(ok, "server did not become ready");
    }

    async fn token(&self) -> String {
        let response = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    async fn post(&self, token: &str, path: &str, body: &Value) -> Value {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", JSONAPI)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json().await.unwrap()
    }

    async fn subscribe(&self, token: &str, url: &str) {
        self.post(
            token,
            "/api/webhooks",
            &json!({"data": {"type": "webhook", "attributes": {
                "name": "t", "url": url, "events": ["user.created"]}}}),
        )
        .await;
    }

    async fn create_users(&self, token: &str, prefix: &str, count: usize) {
        for i in 0..count {
            self.post(
                token,
                "/api/users",
                &json!({"data": {"type": "user", "attributes": {"email": format!("{prefix}{i}@example.com")}}}),
            )
            .await;
        }
    }

    fn kill_9(&mut self) {
        let status = Command::new("kill")
            .args(["-KILL", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let _ = self.child.wait();
    }
}

fn user_created_events(db: &TestDatabase) -> BTreeSet<String> {
    db.texts("SELECT id AS value FROM events WHERE event_type = 'user.created'")
        .into_iter()
        .collect()
}

#[actix_web::test]
async fn a_server_killed_mid_delivery_delivers_the_pending_events_after_restart() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let receiver = Receiver::start();
    *receiver.shared.slow.lock().unwrap() = Duration::from_millis(700);
    let mut first = spawn(&db, &key, dir.path(), "first");
    first.ready().await;
    let token = first.token().await;
    first.subscribe(&token, &receiver.url("/slow")).await;
    first.create_users(&token, "killed", 10).await;
    assert!(
        eventually(Duration::from_secs(10), || !receiver
            .received("/slow")
            .is_empty())
        .await
    );
    first.kill_9();
    let events = user_created_events(&db);
    assert_eq!(events.len(), 10);
    let pending =
        db.texts("SELECT event_id AS value FROM webhook_deliveries WHERE status = 'pending'");
    assert!(!pending.is_empty(), "the kill left deliveries pending");

    *receiver.shared.slow.lock().unwrap() = Duration::ZERO;
    let second = spawn(&db, &key, dir.path(), "second");
    second.ready().await;
    let delivered = || {
        receiver
            .received("/slow")
            .into_iter()
            .map(|r| r.id)
            .collect::<BTreeSet<_>>()
    };
    assert!(
        eventually(Duration::from_secs(15), || delivered() == events).await,
        "delivered {:?} of {:?}",
        delivered().len(),
        events.len()
    );
    assert!(
        eventually(Duration::from_secs(5), || db
            .texts("SELECT event_id AS value FROM webhook_deliveries WHERE status <> 'succeeded'")
            .is_empty())
        .await
    );
    drop(second);
    receiver.stop().await;
}

#[actix_web::test]
async fn two_servers_on_one_database_deliver_each_event_once() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let receiver = Receiver::start();
    let first = spawn(&db, &key, dir.path(), "a");
    first.ready().await;
    let second = spawn(&db, &key, dir.path(), "b");
    second.ready().await;
    let token_a = first.token().await;
    let token_b = second.token().await;
    first.subscribe(&token_a, &receiver.url("/ok")).await;
    // Events written through both servers, delivered by whichever claims them.
    tokio::join!(
        first.create_users(&token_a, "a", 30),
        second.create_users(&token_b, "b", 30)
    );
    let events = user_created_events(&db);
    assert_eq!(events.len(), 60);
    assert!(
        eventually(Duration::from_secs(15), || receiver.received("/ok").len()
            >= 60)
        .await
    );
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for request in receiver.received("/ok") {
        *counts.entry(request.id).or_default() += 1;
    }
    assert_eq!(counts.keys().cloned().collect::<BTreeSet<_>>(), events);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let attempts =
        db.texts("SELECT CAST(count(*) AS TEXT) AS value FROM webhook_delivery_attempts");
    assert_eq!(attempts, ["60"]);
    drop((first, second));
    // Both workers took part: the claim, not luck, kept them apart.
    for name in ["a", "b"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap();
        let sent = log.matches("webhook delivery attempt").count();
        assert!(sent > 0, "server {name} delivered nothing");
    }
    receiver.stop().await;
}
