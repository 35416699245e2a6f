//! What a real server process writes to a log that is a file, not a
//! terminal: plain text, and no ERROR for a client's malformed request.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use crate::processes::spawn_node;

#[actix_web::test]
async fn a_log_file_is_plain_text_and_a_malformed_request_is_no_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let key = portcullis_adapters_crypto::generate_master_key();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let node = spawn_node(&url, &key, dir.path(), "node", &[]);
    node.ready().await;

    // A header value with a control byte: actix-http answers 400 and closes
    // the connection ("invalid Header provided").
    let address = node.base.trim_start_matches("http://localhost:");
    let mut stream = std::net::TcpStream::connect(format!("127.0.0.1:{address}")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x01b\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    drop(stream);

    // The dispatcher reports the closed connection when it ends; give it time.
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    node.ready().await;
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI colour codes in a file:\n{log}"
    );
    assert!(
        !log.contains("ERROR"),
        "a client's malformed request is not a server error:\n{log}"
    );
    assert!(
        log.contains("INFO portcullis::store: migrations applied store=sqlite"),
        "the migrations line names the store:\n{log}"
    );
}
