//! Two server processes on one PostgreSQL database, sharing no memory: a
//! change made through one is honoured by the other within the listener's
//! bound, although both would otherwise keep keys and clients for an hour.

use std::time::{Duration, Instant};

use portcullis_adapters_postgres::testing::TestDatabase;
use reqwest::Method;
use serde_json::{Value, json};

use crate::processes::{Node, spawn_node};
use crate::support::jwt_segment;

/// Caches that would hide another node's change for an hour.
const LONG_CACHES: &[(&str, &str)] = &[
    ("PORTCULLIS_SECURITY__KEY_CACHE_TTL_SECONDS", "3600"),
    ("PORTCULLIS_SECURITY__CLIENT_CACHE_TTL_SECONDS", "3600"),
    ("PORTCULLIS_ACTIONS__CACHE_TTL_SECONDS", "3600"),
];

/// The documented bound (`docs/operations.md`): the poll interval (50 ms)
/// plus a reload, with room for a loaded two-core machine.
const BOUND: Duration = Duration::from_secs(3);

fn kid(token: &str) -> String {
    jwt_segment(token, 0)["kid"].as_str().unwrap().to_owned()
}

/// Polls `check` until it holds; how long that took, or a panic past `BOUND`.
async fn within_bound<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < BOUND, "{what}: not within {BOUND:?}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn status(node: &Node, token: &str, path: &str) -> u16 {
    node.send(Method::GET, path, token, None)
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn two_nodes(dir: &std::path::Path, db: &TestDatabase) -> (Node, Node) {
    let key = portcullis_adapters_crypto::generate_master_key();
    let a = spawn_node(&db.url, &key, dir, "a", LONG_CACHES);
    a.ready().await;
    let b = spawn_node(&db.url, &key, dir, "b", LONG_CACHES);
    b.ready().await;
    (a, b)
}

#[actix_web::test]
async fn a_key_rotated_through_one_node_is_honoured_by_the_other() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path(), &db).await;
    let token_a = a.token().await;
    let old_token_b = b.token().await;
    let old_kid = kid(&old_token_b);
    // B has the key set in memory now.
    assert_eq!(status(&b, &old_token_b, "/api/users").await, 200);

    // A generates a new primary key: B signs with it...
    let generated = a
        .send(Method::POST, "/api/signing-keys", &token_a, None)
        .await
        .unwrap();
    assert_eq!(generated.status(), 201);
    let new_key: Value = generated.json().await.unwrap();
    let new_kid = new_key["data"]["attributes"]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, old_kid);
    let signed = within_bound("B signs with the new primary", || async {
        kid(&b.token().await) == new_kid
    })
    .await;
    // ...and publishes it.
    within_bound("B publishes the new key", || async {
        let jwks = b.public_json("/.well-known/jwks.json").await;
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == new_kid.as_str())
    })
    .await;

    // A deactivates the old key: B stops accepting tokens signed with it.
    let old_id = a.get_ok(&token_a, "/api/signing-keys").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["attributes"]["kid"] == old_kid.as_str())
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .unwrap();
    let response = a
        .send(
            Method::PATCH,
            &format!("/api/signing-keys/{old_id}/deactivate"),
            &token_a,
            None,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let refused = within_bound("B refuses the deactivated key", || async {
        status(&b, &old_token_b, "/api/users").await == 401
    })
    .await;
    eprintln!("honoured by the other node after: new primary {signed:?}, deactivation {refused:?}");
}

#[actix_web::test]
async fn a_client_deleted_through_one_node_gets_no_token_from_the_other() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path(), &db).await;
    let token = a.token().await;
    let (record, id, secret) = a
        .management_client(&token, json!({"name": "Ops"}), &["users:read"])
        .await;
    // B remembers the client and its grant.
    assert_eq!(b.token_response(&id, &secret).await.status(), 200);

    let deleted = a
        .send(
            Method::DELETE,
            &format!("/api/clients/{record}"),
            &token,
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    within_bound("B forgets the deleted client", || async {
        b.token_response(&id, &secret).await.status() == 401
    })
    .await;
}

#[actix_web::test]
async fn a_grant_narrowed_or_deleted_through_one_node_limits_live_tokens_on_the_other() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path(), &db).await;
    let admin = a.token().await;
    let (record, id, secret) = a
        .management_client(
            &admin,
            json!({"name": "Ops"}),
            &["users:read", "clients:read"],
        )
        .await;
    let issued: Value = b.token_response(&id, &secret).await.json().await.unwrap();
    let live = issued["access_token"].as_str().unwrap().to_owned();
    // B has verified the token and remembers the client's grant.
    assert_eq!(status(&b, &live, "/api/users").await, 200);
    let grants = a
        .get_ok(
            &admin,
            &format!("/api/client-grants?filter[client]={record}"),
        )
        .await;
    let grant = grants["data"][0]["id"].as_str().unwrap().to_owned();

    let narrowed = a
        .send(
            Method::PATCH,
            &format!("/api/client-grants/{grant}"),
            &admin,
            Some(&json!({"data": {"type": "client_grant", "id": grant,
                "attributes": {"allowed_scopes": ["clients:read"]}}})),
        )
        .await
        .unwrap();
    assert_eq!(narrowed.status(), 200);
    let lost = within_bound("B drops the removed scope from the live token", || async {
        status(&b, &live, "/api/users").await == 403
    })
    .await;
    assert_eq!(status(&b, &live, "/api/clients").await, 200);

    let deleted = a
        .send(
            Method::DELETE,
            &format!("/api/client-grants/{grant}"),
            &admin,
            None,
        )
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let refused = within_bound("B refuses the token of the deleted grant", || async {
        status(&b, &live, "/api/clients").await == 401
    })
    .await;
    eprintln!("honoured by the other node after: narrowing {lost:?}, deletion {refused:?}");
}

#[actix_web::test]
async fn an_action_created_through_one_node_runs_on_the_other() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_nodes(dir.path(), &db).await;
    let token = a.token().await;
    // B remembers that the environment has no pre_token action.
    let claims = |token: &str| jwt_segment(token, 1);
    assert!(
        claims(&b.token().await)
            .get("https://example.com/tier")
            .is_none()
    );

    a.post(
        &token,
        "/api/actions",
        &json!({"data": {"type": "action", "attributes": {"name": "Tier", "trigger": "pre_token",
            "code": "export default async function(event) { return { claims: { 'https://example.com/tier': 'gold' } }; }"}}}),
    )
    .await;
    within_bound("B runs the new action", || async {
        claims(&b.token().await)["https://example.com/tier"] == "gold"
    })
    .await;
}
