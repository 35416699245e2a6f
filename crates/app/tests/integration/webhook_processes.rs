//! Webhook delivery across real `portcullis` processes on one PostgreSQL
//! database: a server killed with SIGKILL mid-delivery delivers the pending
//! events after a restart, and two servers deliver each event once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use portcullis_adapters_postgres::testing::TestDatabase;
use serde_json::json;

use crate::processes::{Node, spawn_node};
use crate::receiver::{Receiver, eventually};

fn spawn(db: &TestDatabase, master_key: &str, dir: &std::path::Path, name: &str) -> Node {
    spawn_node(&db.url, master_key, dir, name, &[])
}

async fn subscribe(node: &Node, token: &str, url: &str) {
    node.post(
        token,
        "/api/webhooks",
        &json!({"data": {"type": "webhook", "attributes": {
            "name": "t", "url": url, "events": ["user.created"]}}}),
    )
    .await;
}

async fn create_users(node: &Node, token: &str, prefix: &str, count: usize) {
    for i in 0..count {
        node.post(
            token,
            "/api/users",
            &json!({"data": {"type": "user", "attributes": {"email": format!("{prefix}{i}@example.com")}}}),
        )
        .await;
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
    subscribe(&first, &token, &receiver.url("/slow")).await;
    create_users(&first, &token, "killed", 10).await;
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
    subscribe(&first, &token_a, &receiver.url("/ok")).await;
    // Events written through both servers, delivered by whichever claims them.
    tokio::join!(
        create_users(&first, &token_a, "a", 30),
        create_users(&second, &token_b, "b", 30)
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
