//! Graceful shutdown of a real process: after SIGTERM the server accepts no
//! new connection, finishes the request in flight (its write is kept), stops
//! the webhook delivery worker and exits 0.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use portcullis_adapters_postgres::testing::TestDatabase;
use reqwest::Method;

use crate::processes::spawn_node;
use crate::support::JSONAPI;

#[actix_web::test]
async fn sigterm_drains_the_request_in_flight_then_stops_cleanly() {
    let db = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let mut node = spawn_node(&db.url, &key, dir.path(), "node", &[]);
    node.ready().await;
    let token = node.token().await;
    let address = node.base.replace("http://localhost", "127.0.0.1");

    // A request whose body is still arriving when the signal comes.
    let body = r#"{"data":{"type":"user","attributes":{"email":"inflight@example.com"}}}"#;
    let (head, tail) = body.split_at(20);
    let mut stream = TcpStream::connect(&address).unwrap();
    write!(
        stream,
        "POST /api/users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {JSONAPI}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    node.signal_term();
    std::thread::sleep(Duration::from_millis(300));
    assert!(node.is_running(), "still draining the request in flight");
    assert!(
        TcpStream::connect(&address).is_err(),
        "no new connection once stopping"
    );

    stream.write_all(tail.as_bytes()).unwrap();
    let mut response = String::new();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "the request in flight completes: {response}"
    );

    let status = node.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "graceful stop exits 0: {status}");
    let log = node.log();
    assert!(log.contains("draining in-flight requests"), "{log}");
    assert!(log.contains("webhook delivery worker stopped"), "{log}");
    assert!(log.contains("stopped"), "{log}");

    // The drained write is there for the next process.
    let node = spawn_node(&db.url, &key, dir.path(), "again", &[]);
    node.ready().await;
    let token = node.token().await;
    let found = node
        .send(
            Method::GET,
            "/api/users?filter[email]=inflight@example.com",
            &token,
            None,
        )
        .await
        .unwrap();
    let document: serde_json::Value = found.json().await.unwrap();
    assert_eq!(
        document["data"].as_array().map(Vec::len),
        Some(1),
        "{document}"
    );
}
