//! `just soak`: a steady mixed load on one real process for `SOAK_SECONDS`
//! (default 300) on PostgreSQL. No answer may be a 5xx, and the resident
//! memory after warm-up may not keep growing. The crash cycles of
//! `crash.rs` run in the same recipe.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portcullis_adapters_postgres::testing::TestDatabase;
use reqwest::Method;
use serde_json::json;

use crate::processes::{Node, spawn_node};
use crate::support::{CLIENT_ID, CLIENT_SECRET};

fn soak_seconds() -> u64 {
    std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// One task of the mix: its statuses, counted.
async fn worker(node: &Node, token: &str, kind: usize, stop: &AtomicBool) -> BTreeMap<u16, u64> {
    let mut statuses = BTreeMap::new();
    let mut n = 0u64;
    let mut last_user = None::<String>;
    while !stop.load(Ordering::Acquire) {
        n += 1;
        let status = match kind % 4 {
            0 => node.token_response(CLIENT_ID, CLIENT_SECRET).await.status(),
            1 => {
                let body = json!({"data": {"type": "user", "attributes": {
                    "email": format!("soak-{kind}-{n}@example.com")}}});
                let response = node
                    .send(Method::POST, "/api/users", token, Some(&body))
                    .await
                    .unwrap();
                let status = response.status();
                if status == 201 {
                    let document: serde_json::Value = response.json().await.unwrap();
                    last_user = document["data"]["id"].as_str().map(str::to_owned);
                }
                status
            }
            2 => node
                .send(Method::GET, "/api/users?page[size]=50", token, None)
                .await
                .unwrap()
                .status(),
            _ => node
                .send(Method::GET, "/api/events?page[size]=20", token, None)
                .await
                .unwrap()
                .status(),
        };
        *statuses.entry(status.as_u16()).or_default() += 1;
        if let Some(id) = last_user.take().filter(|_| n.is_multiple_of(2)) {
            let status = node
                .send(Method::DELETE, &format!("/api/users/{id}"), token, None)
                .await
                .unwrap()
                .status();
            *statuses.entry(status.as_u16()).or_default() += 1;
        }
    }
    statuses
}

#[actix_web::test]
#[ignore = "long: run with `just soak`"]
async fn soak_steady_mixed_load() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let node = Arc::new(spawn_node(&db.url, &key, dir.path(), "soak", &[]));
    node.ready().await;
    let token = node.token().await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8)
        .map(|kind| {
            let (node, token, stop) = (Arc::clone(&node), token.clone(), Arc::clone(&stop));
            actix_web::rt::spawn(async move { worker(&node, &token, kind, &stop).await })
        })
        .collect();

    let duration = Duration::from_secs(soak_seconds());
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < duration {
        actix_web::rt::time::sleep(Duration::from_secs(5).min(duration)).await;
        samples.push((started.elapsed().as_secs(), node.rss_kib()));
    }
    stop.store(true, Ordering::Release);
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for task in tasks {
        for (status, n) in task.await.unwrap() {
            *statuses.entry(status).or_default() += n;
        }
    }
    let total: u64 = statuses.values().sum();
    eprintln!(
        "soak: {total} requests in {:?} ({:.0}/s), statuses {statuses:?}",
        started.elapsed(),
        total as f64 / started.elapsed().as_secs_f64()
    );
    eprintln!("soak: resident memory (s, KiB): {samples:?}");
    assert!(
        statuses.keys().all(|s| *s < 500),
        "server errors during the soak: {statuses:?}"
    );
    // After a quarter of the run the pools and caches are warm: memory may
    // wobble, not keep growing.
    let warm = samples[samples.len() / 4].1;
    let last = samples.last().unwrap().1;
    assert!(
        last <= warm + warm / 2 + 32 * 1024,
        "resident memory kept growing: {warm} KiB after warm-up, {last} KiB at the end"
    );
}
