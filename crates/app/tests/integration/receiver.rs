//! A webhook receiver on 127.0.0.1 for the delivery tests: records every
//! request and answers per path — `/ok` 204, `/error` 500, `/slow` after
//! a delay, `/flaky` 503 for the first `flaky_failures` requests then 204.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine as _;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Shared {
    pub received: Mutex<Vec<Received>>,
    pub flaky_failures: Mutex<usize>,
    pub slow: Mutex<Duration>,
}

pub struct Receiver {
    pub port: u16,
    pub shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
}

async fn handle(request: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let path = request.path().to_owned();
    shared.received.lock().unwrap().push(Received {
        path: path.clone(),
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    match path.as_str() {
        "/error" => HttpResponse::InternalServerError().finish(),
        "/slow" => {
            let delay = *shared.slow.lock().unwrap();
            actix_web::rt::time::sleep(delay).await;
            HttpResponse::NoContent().finish()
        }
        "/flaky" => {
            let mut left = shared.flaky_failures.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                HttpResponse::ServiceUnavailable().finish()
            } else {
                HttpResponse::NoContent().finish()
            }
        }
        _ => HttpResponse::NoContent().finish(),
    }
}

impl Receiver {
    /// Starts on a free port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts on `port` (0: any free one).
    pub fn start_on(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            port,
            shared,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Verifies a request as the Standard Webhooks specification says, with an
/// HMAC written here (independent of the server's signer).
pub fn verify(secret: &str, received: &Received) -> bool {
    use hmac::{Hmac, KeyInit as _, Mac as _};
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", received.id, received.timestamp, received.body).as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    received
        .signature
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    check()
}

/// Verifies requests with the Standard Webhooks reference library for
/// Python (`standardwebhooks`; `scripts/test.sh` puts the suite's virtualenv,
/// which has it, first on `PATH`), as a receiver would; `None` when
/// the library is not installed.
pub fn verify_with_standardwebhooks(secret: &str, requests: &[Received]) -> Option<bool> {
    let available = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        return None;
    }
    let cases: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| {
            serde_json::json!({"body": r.body, "headers": {
                "webhook-id": r.id, "webhook-timestamp": r.timestamp, "webhook-signature": r.signature}})
        })
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret, cases = sys.argv[1], json.loads(sys.stdin.read())
wh = Webhook(secret)
for case in cases:
    wh.verify(case["body"], case["headers"])
    # A tampered body must fail.
    try:
        wh.verify(case["body"] + " ", case["headers"])
        sys.exit(2)
    except Exception:
        pass
print("ok")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take()?;
        stdin
            .write_all(serde_json::Value::Array(cases).to_string().as_bytes())
            .ok()?;
    }
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Some(output.status.success() && output.stdout.starts_with(b"ok"))
}
