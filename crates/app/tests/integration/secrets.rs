//! Secrets are shown once: after the response that created them, no
//! response, no audit event and no log line (at any level, captured from
//! the running server) ever carries a client secret, a connection's client
//! secret or an invitation token, through reads, listings, updates, the
//! invitee's acceptance and a token request that uses the secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::invitations::{answer, invited};
use crate::on_both_stores;
use crate::organizations::create_organization;
use crate::support::{Store, TestApp, jsonapi, spawn_app};

/// Everything the server logs, at every level, in this test process.
pub(crate) fn capture_logs() -> Arc<Mutex<Vec<u8>>> {
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buffer);
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || Sink(Arc::clone(&sink)))
        .finish();
    // nextest runs each test in its own process; under `cargo test` another
    // test may have set the subscriber first, and this one then captures
    // nothing, which the assertion on the captured text reports.
    let _ = tracing::subscriber::set_global_default(subscriber);
    buffer
}

/// Every response body and header seen after the secrets were created.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    async fn record(&mut self, response: reqwest::Response) -> (u16, Value) {
        let status = response.status().as_u16();
        self.0.push(format!("{:?}", response.headers()));
        let text = response.text().await.unwrap();
        self.0.push(text.clone());
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&mut self, app: &TestApp, token: &str, path: &str) -> Value {
        let (status, body) = self.record(app.get(path, token).await).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

async fn no_secret_reappears_in_responses_events_or_logs(store: Store) {
    let logs = capture_logs();
    let app = spawn_app(store).await;
    let token = app.token(None).await;

    // The three kinds of secret, each from its creating response.
    let created = app
        .post(
            "/api/clients",
            &token,
            &json!({"data": {"type": "client", "attributes": {
                "name": "billing job", "client_type": "confidential",
                "grant_types": ["client_credentials"]}}}),
        )
        .await;
    let created = jsonapi(created).await;
    let client = created["data"]["id"].as_str().unwrap().to_owned();
    let client_id = created["data"]["attributes"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_secret = created["data"]["attributes"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let connection_secret = "connection-secret-that-must-stay-hidden";
    let connection = jsonapi(
        app.post(
            "/api/connections",
            &token,
            &json!({"data": {"type": "connection", "attributes": {
                "strategy": "google", "display_name": "Google", "client_id": "g-client",
                "client_secret": connection_secret}}}),
        )
        .await,
    )
    .await;
    assert!(!connection.to_string().contains(connection_secret));
    let connection = connection["data"]["id"].as_str().unwrap().to_owned();
    let org = create_organization(&app, &token, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let (invitation, invitation_token) = invited(&app, &token, org, "ann@example.com", &[]).await;
    let invitation = invitation["id"].as_str().unwrap().to_owned();
    let secrets = [
        client_secret.as_str(),
        connection_secret,
        invitation_token.as_str(),
    ];

    // Everything that could echo them afterwards.
    let mut seen = Seen::default();
    for path in [
        format!("/api/clients/{client}"),
        "/api/clients".to_owned(),
        format!("/api/connections/{connection}"),
        "/api/connections".to_owned(),
        format!("/api/invitations/{invitation}"),
        "/api/invitations".to_owned(),
    ] {
        seen.get(&app, &token, &path).await;
    }
    let (status, _) = seen
        .record(
            app.patch(
                &format!("/api/connections/{connection}"),
                &token,
                &json!({"data": {"type": "connection", "id": connection,
                    "attributes": {"display_name": "Google Workspace"}}}),
            )
            .await,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = seen
        .record(
            answer(
                &app,
                &invitation,
                "accept",
                &json!({"token": invitation_token, "password": "correct horse battery"}),
            )
            .await,
        )
        .await;
    assert_eq!(status, 200);
    // A wrong guess and a replay of the right token are refused without echo.
    for guess in [invitation_token.as_str(), "guess"] {
        let (status, _) = seen
            .record(answer(&app, &invitation, "decline", &json!({"token": guess})).await)
            .await;
        assert!(status == 409 || status == 404, "{status}");
    }
    // The client secret used at the token endpoint (refused: no grant) and
    // sent as a bad password.
    for secret in [client_secret.as_str(), "wrong"] {
        let (status, _) = seen
            .record(
                app.client
                    .post(format!("{}/oauth/token", app.base))
                    .basic_auth(&client_id, Some(secret))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        assert!(status == 400 || status == 401 || status == 403, "{status}");
    }

    let events = app
        .db
        .texts("SELECT event_type || ' ' || actor || ' ' || data AS value FROM events");
    assert!(
        events.iter().any(|e| e.starts_with("invitation.accepted")),
        "the events were read"
    );
    let logged = String::from_utf8_lossy(
        &logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    assert!(
        logged.contains(&format!("/invitations/{invitation}/accept")),
        "the server's logs were captured"
    );
    for secret in secrets {
        for text in seen.0.iter().chain(events.iter()) {
            assert!(!text.contains(secret), "a secret reappeared in: {text}");
        }
        assert!(!logged.contains(secret), "a secret reached the logs");
    }
}

on_both_stores!(no_secret_reappears_in_responses_events_or_logs);
