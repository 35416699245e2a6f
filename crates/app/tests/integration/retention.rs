//! The retention janitor in a real process: expired opaque tokens go after
//! their grace, audit events older than the retention go, recent ones stay.

use std::time::Duration;

use portcullis_adapters_postgres::testing::TestDatabase;
use reqwest::Method;
use serde_json::json;

use crate::processes::{data_id, spawn_node};
use crate::receiver::eventually;

#[actix_web::test]
async fn the_janitor_purges_expired_opaque_tokens_and_events_past_their_retention() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let node = spawn_node(
        &db.url,
        &key,
        dir.path(),
        "node",
        &[
            ("PORTCULLIS_RETENTION__INTERVAL_SECONDS", "1"),
            ("PORTCULLIS_RETENTION__EVENTS_DAYS", "30"),
        ],
    );
    node.ready().await;
    let token = node.token().await;

    // An opaque client with Management API access, and one token of it.
    let (_, id, secret) = node
        .management_client(
            &token,
            json!({"name": "Reports", "token_format": "opaque"}),
            &["users:read"],
        )
        .await;
    let issued = node.token_response(&id, &secret).await;
    assert_eq!(issued.status(), 200);
    let user = node
        .post(
            &token,
            "/api/users",
            &json!({"data": {"type": "user", "attributes": {"email": "old@example.com"}}}),
        )
        .await;
    let tokens = || db.texts("SELECT id AS value FROM access_tokens");
    assert_eq!(tokens().len(), 1);

    // Age the token past expiry and grace, and the user's event past the
    // retention, behind the server's back.
    let expired = db.texts(
        "UPDATE access_tokens SET expires_at = TIMESTAMP '2000-01-01' RETURNING id AS value",
    );
    assert_eq!(expired.len(), 1);
    let aged = db.texts(&format!(
        "UPDATE events SET occurred_at = TIMESTAMP '2000-01-01' \
         WHERE resource_id = '{}' RETURNING id AS value",
        data_id(&user)
    ));
    assert_eq!(aged.len(), 1);
    let events = || db.texts("SELECT id AS value FROM events");
    let before = events().len();

    assert!(
        eventually(Duration::from_secs(10), || tokens().is_empty()).await,
        "the expired token was not purged"
    );
    assert!(
        eventually(Duration::from_secs(10), || events().len() == before - 1).await,
        "the aged event was not purged"
    );
    assert!(!events().contains(&aged[0]));
    // The user itself is not the janitor's business.
    let found = node
        .send(
            Method::GET,
            &format!("/api/users/{}", data_id(&user)),
            &token,
            None,
        )
        .await
        .unwrap();
    assert_eq!(found.status(), 200);
    assert!(node.log().contains("retention: purged"));
}
