//! Operations: rate limits (429 with `Retry-After` and the IETF `RateLimit`
//! fields), input limits (JSON nesting, request heads) and the Prometheus
//! metrics at `/metrics`, over the real server.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{
    CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, spawn_app, spawn_app_with,
};

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A server whose limits are off but for those `tweak` sets, over one-minute windows.
async fn limited(
    store: Store,
    tweak: impl FnOnce(&mut portcullis_app::settings::Settings),
) -> TestApp {
    spawn_app_with(store, |settings| {
        settings.rate_limits.window_seconds = 60;
        settings.rate_limits.token_per_address = 0;
        settings.rate_limits.token_per_client = 0;
        settings.rate_limits.api_per_client = 0;
        settings.rate_limits.public_per_address = 0;
        tweak(settings);
    })
    .await
}

async fn token_with(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
}

fn permission_names(app: &TestApp) -> Vec<String> {
    app.db
        .texts("SELECT name AS value FROM permissions ORDER BY name")
}

#[actix_web::test]
async fn the_token_endpoint_limits_each_source_address() {
    let app = limited(Store::Postgres, |s| s.rate_limits.token_per_address = 3).await;
    let token = app.token(None).await;
    for remaining in [1, 0] {
        let response = app.token_response(&[]).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "ratelimit-policy"),
            "\"token-address\";q=3;w=60"
        );
        let state = header(&response, "ratelimit");
        assert!(
            state.starts_with(&format!("\"token-address\";r={remaining};t=")),
            "{state}"
        );
        assert_eq!(header(&response, "retry-after"), "");
    }
    // Refused before anything else, even a request that is no token request at all.
    let empty = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .send()
        .await
        .unwrap();
    for response in [app.token_response(&[]).await, empty] {
        assert_eq!(response.status(), 429);
        assert_eq!(header(&response, "retry-after"), "20");
        assert_eq!(header(&response, "ratelimit"), "\"token-address\";r=0;t=20");
        assert_eq!(header(&response, "content-type"), "application/json");
        assert_eq!(header(&response, "cache-control"), "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "rate_limited", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("3 requests per 60 seconds"),
            "{body}"
        );
        assert!(body.get("access_token").is_none());
    }
    // The Management API has limits of its own (off here).
    let listed = app.get("/api/users", &token).await;
    assert_eq!(listed.status(), 200);
    assert_eq!(header(&listed, "ratelimit-policy"), "");
}

#[actix_web::test]
async fn the_token_endpoint_limits_each_client_before_checking_its_secret() {
    let app = limited(Store::Postgres, |s| s.rate_limits.token_per_client = 2).await;
    for _ in 0..2 {
        assert_eq!(
            token_with(&app, CLIENT_ID, CLIENT_SECRET).await.status(),
            200
        );
    }
    let refused = token_with(&app, CLIENT_ID, CLIENT_SECRET).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        header(&refused, "ratelimit-policy"),
        "\"token-client\";q=2;w=60"
    );
    assert_eq!(header(&refused, "retry-after"), "30");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // A wrong secret is refused by the limit too: guessing costs no bcrypt.
    let guess = token_with(&app, CLIENT_ID, "not-the-secret").await;
    assert_eq!(guess.status(), 429);
    // Another client id has its own budget.
    let other = token_with(&app, "someone-else", "whatever").await;
    assert_eq!(other.status(), 401);
    assert_eq!(header(&other, "ratelimit"), "\"token-client\";r=1;t=30");
    // The client_secret_post form is keyed the same way.
    let posted = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 429);
}

#[actix_web::test]
async fn the_management_api_limits_each_client_and_a_refused_write_changes_nothing() {
    // 3 requests per 3 s: one comes back every second.
    let app = spawn_app_with(Store::Postgres, |s| {
        s.rate_limits.window_seconds = 3;
        s.rate_limits.api_per_client = 3;
    })
    .await;
    let token = app.token(None).await;
    let created = app.create_permission(&token, "read:reports").await;
    assert_eq!(created["attributes"]["name"], "read:reports");
    for remaining in [1, 0] {
        let listed = app.get("/api/permissions", &token).await;
        assert_eq!(listed.status(), 200);
        assert_eq!(
            header(&listed, "ratelimit-policy"),
            "\"api-client\";q=3;w=3"
        );
        let state = header(&listed, "ratelimit");
        assert!(
            state.starts_with(&format!("\"api-client\";r={remaining};t=")),
            "{state}"
        );
    }
    let write = json!({"data": {"type": "permission", "attributes": {"name": "write:reports"}}});
    let refused = app.post("/api/permissions", &token, &write).await;
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "ratelimit"), "\"api-client\";r=0;t=1");
    let error = expect_error(refused, 429, "rate_limited").await;
    assert!(
        error["detail"]
            .as_str()
            .unwrap()
            .contains("3 requests per 3 seconds"),
        "{error}"
    );
    assert_eq!(permission_names(&app), ["read:reports"]);
    // Unauthenticated requests are refused as such, not as 429.
    let anonymous = app
        .client
        .get(format!("{}/api/permissions", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    // After Retry-After the client may write again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let accepted = app.post("/api/permissions", &token, &write).await;
    assert_eq!(accepted.status(), 201);
    assert_eq!(permission_names(&app), ["read:reports", "write:reports"]);
}

#[actix_web::test]
async fn the_default_limits_are_on_and_advertised() {
    let app = spawn_app(Store::Postgres).await;
    let response = app.token_response(&[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "ratelimit-policy"),
        "\"token-address\";q=1000;w=10, \"token-client\";q=500;w=10"
    );
    let token: Value = response.json().await.unwrap();
    let listed = app
        .get("/api/users", token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(
        header(&listed, "ratelimit-policy"),
        "\"api-client\";q=1000;w=10"
    );
}

/// `levels` nested arrays.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |inner, _| json!([inner]))
}

#[actix_web::test]
async fn documents_nested_too_deep_are_refused_with_a_pointer_and_change_nothing() {
    let app = spawn_app(Store::Postgres).await;
    let token = app.token(None).await;
    // The document is level 1, data 2, attributes 3, metadata 4.
    let document = |metadata: Value| {
        json!({"data": {"type": "user", "attributes": {
            "email": "deep@example.com", "metadata": {"list": metadata}}}})
    };
    let deep = app.post("/api/users", &token, &document(nested(29))).await;
    let error = expect_error(deep, 400, "nesting_too_deep").await;
    let pointer = format!("/data/attributes/metadata/list{}", "/0".repeat(28));
    assert_eq!(error["source"]["pointer"], pointer, "{error}");
    // Past serde_json's own recursion limit: the same error, never a 500.
    let raw = format!(
        "{{\"data\": {{\"type\": \"user\", \"attributes\": {{\"metadata\": {}1{}}}}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let deeper = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", crate::support::JSONAPI)
        .body(raw)
        .send()
        .await
        .unwrap();
    let error = expect_error(deeper, 400, "nesting_too_deep").await;
    assert_eq!(error["source"]["pointer"], "");
    // Invitation answers parse the same way.
    let answer = app
        .client
        .post(format!(
            "{}/invitations/01ARZ3NDEKTSV4RRFFQ69G5FAV/accept",
            app.base
        ))
        .header("content-type", "application/json")
        .body(format!("{{\"token\": {}}}", nested(40)))
        .send()
        .await
        .unwrap();
    expect_error(answer, 400, "nesting_too_deep").await;
    assert!(app.db.texts("SELECT email AS value FROM users").is_empty());
    // At the limit the document is read as usual.
    let fine = app.post("/api/users", &token, &document(nested(28))).await;
    assert_eq!(fine.status(), 201);
}

#[actix_web::test]
async fn long_urls_and_large_headers_are_json_api_errors_and_change_nothing() {
    let app = spawn_app(Store::Postgres).await;
    let token = app.token(None).await;
    let user = json!({"data": {"type": "user", "attributes": {"email": "head@example.com"}}});
    let big_header = app
        .client
        .post(format!("{}/api/users", app.base))
        .bearer_auth(&token)
        .header("content-type", crate::support::JSONAPI)
        .header("x-big", "a".repeat(40 * 1024))
        .body(user.to_string())
        .send()
        .await
        .unwrap();
    let error = expect_error(big_header, 431, "header_fields_too_large").await;
    assert_eq!(error["source"]["header"], "x-big");
    let long_url = app
        .client
        .post(format!(
            "{}/api/users?filter%5Bemail%5D={}",
            app.base,
            "a".repeat(16 * 1024)
        ))
        .bearer_auth(&token)
        .header("content-type", crate::support::JSONAPI)
        .body(user.to_string())
        .send()
        .await
        .unwrap();
    expect_error(long_url, 414, "uri_too_long").await;
    assert!(app.db.texts("SELECT email AS value FROM users").is_empty());
    // Within the limits, a long query string is read (and refused) as usual.
    let unknown = app
        .get(&format!("/api/users?{}=1", "x".repeat(4 * 1024)), &token)
        .await;
    let error = expect_error(unknown, 400, "invalid_query_parameter").await;
    assert!(error["source"]["parameter"].is_string());
}

/// Sends `request` on a fresh connection and returns what the server
/// answers until it closes or 10 s pass (a hang fails the test).
fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no answer within 10 s: {e}"),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[actix_web::test]
async fn heads_past_what_actix_reads_get_a_bare_431_and_a_closed_connection() {
    let app = spawn_app(Store::Postgres).await;
    let addr = app.addr;
    let cases = [
        (
            "a 200 KiB header",
            format!(
                "GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
                "a".repeat(200 * 1024)
            ),
        ),
        (
            "a 200 KiB URL",
            format!(
                "GET /api/users?{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                "a".repeat(200 * 1024)
            ),
        ),
        (
            "200 header fields",
            format!(
                "GET /health/live HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
                (0..200)
                    .map(|i| format!("X-H{i}: v\r\n"))
                    .collect::<String>()
            ),
        ),
    ];
    for (what, request) in cases {
        // Read until the server closes: a hang fails after 10 s.
        let answer = tokio::task::spawn_blocking(move || raw_exchange(addr, request.as_bytes()))
            .await
            .unwrap();
        let status = answer
            .lines()
            .next()
            .unwrap_or("(closed without an answer)");
        assert!(status.starts_with("HTTP/1.1 431"), "{what}: {status}");
    }
    // The server is still serving.
    let live = app
        .client
        .get(format!("{}/health/live", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}

/// One sample of a Prometheus text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (0.0.4) strictly: every line is a
/// `# HELP`/`# TYPE` comment or `name{label="value",...} number`, label
/// values with their escapes (`\\`, `\"`, `\n`); every sample's family has
/// a `# TYPE` before it.
fn scrape(text: &str) -> Vec<Sample> {
    let mut typed = HashMap::new();
    let mut samples = Vec::new();
    let is_name = |name: &str| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.splitn(3, ' ');
            let (kind, name, rest) = (
                words.next().unwrap(),
                words.next().unwrap_or(""),
                words.next().unwrap_or(""),
            );
            assert!(is_name(name), "{line}");
            match kind {
                "HELP" => assert!(!rest.is_empty(), "{line}"),
                "TYPE" => {
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&rest),
                        "{line}"
                    );
                    assert!(
                        typed.insert(name.to_owned(), rest.to_owned()).is_none(),
                        "{line}"
                    );
                }
                _ => panic!("unknown comment: {line}"),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).expect(line);
        let name = &line[..name_end];
        assert!(is_name(name), "{line}");
        let mut labels = HashMap::new();
        let mut rest = &line[name_end..];
        if let Some(mut inner) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = inner.strip_prefix('}') {
                    rest = after;
                    break;
                }
                let eq = inner.find("=\"").expect(line);
                let key = &inner[..eq];
                assert!(is_name(key), "{line}");
                let mut value = String::new();
                let mut chars = inner[eq + 2..].char_indices();
                let end = loop {
                    match chars.next().expect(line) {
                        (_, '\\') => match chars.next().expect(line).1 {
                            'n' => value.push('\n'),
                            c @ ('\\' | '"') => value.push(c),
                            other => panic!("bad escape \\{other}: {line}"),
                        },
                        (i, '"') => break eq + 2 + i + 1,
                        (_, c) => value.push(c),
                    }
                };
                assert!(labels.insert(key.to_owned(), value).is_none(), "{line}");
                inner = &inner[end..];
                inner = inner.strip_prefix(',').unwrap_or(inner);
            }
        }
        let value = rest.strip_prefix(' ').expect(line);
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            number => number.parse::<f64>().expect(line),
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| typed.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "no # TYPE before {line}");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    samples
}

fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(&response, "content-type").starts_with("text/plain; version=0.0.4"));
    response.text().await.unwrap()
}

async fn metrics_count_requests_tokens_actions_and_read_the_store(store: Store) {
    let app = spawn_app_with(store, |s| {
        s.rate_limits.window_seconds = 60;
        s.rate_limits.token_per_client = 3;
    })
    .await;
    let token = app.token(None).await;
    // A pre_token action runs on the next token request.
    let action = app
        .post(
            "/api/actions",
            &token,
            &json!({"data": {"type": "action", "attributes": {
                "name": "Tier", "trigger": "pre_token",
                "code": "export default async function(event) { return { claims: { tier: 'gold' } }; }"}}}),
        )
        .await;
    assert_eq!(action.status(), 201);
    assert_eq!(app.token_response(&[]).await.status(), 200);
    assert_eq!(app.token_response(&[]).await.status(), 200);
    assert_eq!(app.token_response(&[]).await.status(), 429);
    assert_eq!(token_with(&app, "nobody", "nothing").await.status(), 401);
    let user = app.create_user(&token, "metric@example.com").await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/users/{id}"), &token).await.status(),
        200
    );
    assert_eq!(
        app.get("/api/users/01ARZ3NDEKTSV4RRFFQ69G5FAV", &token)
            .await
            .status(),
        404
    );
    assert_eq!(app.get("/no/such/path", &token).await.status(), 404);

    let text = metrics_text(&app).await;
    let metrics = scrape(&text);
    let get = |name: &str, labels: &[(&str, &str)]| value_of(&metrics, name, labels);
    let requests = "portcullis_http_requests_total";
    assert_eq!(
        get(
            requests,
            &[
                ("method", "GET"),
                ("route", "/api/users/{id}"),
                ("status", "200")
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        get(
            requests,
            &[
                ("method", "GET"),
                ("route", "/api/users/{id}"),
                ("status", "404")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            requests,
            &[
                ("method", "POST"),
                ("route", "/oauth/token"),
                ("status", "429")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        get(requests, &[("route", "unmatched"), ("status", "404")]),
        Some(1.0)
    );
    // Labels are route patterns: no raw path (with its id) is ever a label.
    assert!(!text.contains(id), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
    // The latency histogram has buckets and a count per route and status.
    assert_eq!(
        get(
            "portcullis_http_request_duration_seconds_count",
            &[("route", "/api/users/{id}"), ("status", "200")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("portcullis_http_request_duration_seconds_bucket{"));
    let tokens = "portcullis_token_requests_total";
    assert_eq!(get(tokens, &[("outcome", "issued")]), Some(3.0), "{text}");
    assert_eq!(get(tokens, &[("outcome", "rate_limited")]), Some(1.0));
    assert_eq!(get(tokens, &[("outcome", "invalid_client")]), Some(1.0));
    assert_eq!(
        get(
            "portcullis_rate_limited_total",
            &[("policy", "token-client")]
        ),
        Some(1.0)
    );
    assert_eq!(
        get(
            "portcullis_action_runs_total",
            &[("trigger", "pre_token"), ("outcome", "ok")]
        ),
        Some(2.0),
        "{text}"
    );
    // Gauges read from the store on scrape.
    let max = get("portcullis_db_pool_max_connections", &[]).expect("pool size");
    assert!((1.0..=4.0).contains(&max), "{text}");
    let open = get("portcullis_db_pool_connections", &[]).expect("open connections");
    assert!((1.0..=max).contains(&open));
    assert!(get("portcullis_db_pool_idle_connections", &[]).is_some());
    assert!(get("portcullis_db_pool_in_use_connections", &[]).is_some());
    assert_eq!(get("portcullis_webhook_outbox_pending", &[]), Some(0.0));
    assert!(get("portcullis_rate_limit_tracked_keys", &[]).unwrap() >= 2.0);
}

/// Subscribes `user.created` to a URL nothing listens on (port 9).
async fn subscribe_unreachable(app: &TestApp, token: &str) {
    let hook = app
        .post(
            "/api/webhooks",
            token,
            &json!({"data": {"type": "webhook", "attributes": {
                "name": "Audit", "url": "http://127.0.0.1:9/hook", "events": ["user.created"]}}}),
        )
        .await;
    assert_eq!(hook.status(), 201, "{}", hook.text().await.unwrap());
}

#[actix_web::test]
async fn the_outbox_depth_counts_pending_deliveries() {
    let app = spawn_app_with(Store::Postgres, |s| {
        s.webhooks.allow_private_targets = true;
        // The worker waits long between polls: deliveries stay pending.
        s.webhooks.poll_interval_ms = 60_000;
    })
    .await;
    let token = app.token(None).await;
    // Deliveries would fail, but none is attempted yet.
    subscribe_unreachable(&app, &token).await;
    for i in 0..3 {
        app.create_user(&token, &format!("u{i}@example.com")).await;
    }
    let metrics = scrape(&metrics_text(&app).await);
    let pending = value_of(&metrics, "portcullis_webhook_outbox_pending", &[]);
    let stored = app.db.texts(
        "SELECT CAST(COUNT(*) AS TEXT) AS value FROM webhook_deliveries WHERE status = 'pending'",
    );
    assert_eq!(pending, Some(stored[0].parse::<f64>().unwrap()));
    assert!(pending.unwrap() >= 1.0);
}

#[actix_web::test]
async fn metrics_can_be_turned_off() {
    let app = spawn_app_with(Store::Postgres, |s| s.metrics.enabled = false).await;
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
}

#[actix_web::test]
async fn settings_of_rate_limits_are_checked() {
    let bad = HashMap::from([
        ("PORTCULLIS_RATE_LIMITS__WINDOW_SECONDS", "0"),
        ("PORTCULLIS_RATE_LIMITS__API_PER_CLIENT", "2000000"),
        ("PORTCULLIS_RATE_LIMITS__TOKEN_PER_CLIENT", "many"),
    ]);
    for (variable, value) in bad {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .arg("migrate")
            .env(variable, value)
            .env(
                "PORTCULLIS_DATA_DIR",
                std::env::temp_dir().join("portcullis-ops-settings"),
            )
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

crate::on_both_stores!(metrics_count_requests_tokens_actions_and_read_the_store);

#[actix_web::test]
async fn delivery_outcomes_are_counted() {
    let app = spawn_app_with(Store::Postgres, |s| {
        s.webhooks.allow_private_targets = true;
        s.webhooks.poll_interval_ms = 20;
        s.webhooks.request_timeout_ms = 500;
    })
    .await;
    let token = app.token(None).await;
    // The first attempt fails and is retried later.
    subscribe_unreachable(&app, &token).await;
    app.create_user(&token, "delivered@example.com").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = scrape(&metrics_text(&app).await);
        let retrying = value_of(
            &metrics,
            "portcullis_webhook_deliveries_total",
            &[("outcome", "retrying")],
        );
        if retrying == Some(1.0) {
            assert_eq!(
                value_of(&metrics, "portcullis_webhook_outbox_pending", &[]),
                Some(1.0)
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery attempt counted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The public invitation answers are limited per address before any work:
/// the refused answer changes nothing, and the invitation can still be
/// accepted once the address has budget again (here: another server).
#[actix_web::test]
async fn public_invitation_answers_are_limited_per_address() {
    use crate::invitations::{answer, invited};
    use crate::organizations::create_organization;

    let app = limited(Store::Postgres, |s| s.rate_limits.public_per_address = 2).await;
    let token = app.token(None).await;
    let org = create_organization(&app, &token, "Acme").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (invitation, secret) = invited(&app, &token, &org, "guest@example.com", &[]).await;
    let id = invitation["id"].as_str().unwrap();
    for _ in 0..2 {
        let wrong = answer(&app, id, "accept", &json!({"token": "not-it"})).await;
        assert_eq!(wrong.status(), 404);
        assert_eq!(
            header(&wrong, "ratelimit-policy"),
            "\"public-address\";q=2;w=60"
        );
    }
    let refused = answer(&app, id, "accept", &json!({"token": secret})).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after"), "30");
    expect_error(refused, 429, "rate_limited").await;
    let still =
        crate::support::jsonapi(app.get(&format!("/api/invitations/{id}"), &token).await).await;
    assert_eq!(
        still["data"]["attributes"]["status"], "pending",
        "nothing changed"
    );
    assert!(app.db.texts("SELECT id AS value FROM users").is_empty());
}
