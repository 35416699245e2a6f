//! Real `portcullis` processes for the fault tests: started from the built
//! binary on 127.0.0.1 with their log in a file, stopped with SIGKILL or
//! SIGTERM, and driven over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::receiver::free_port;
use crate::support::{CLIENT_ID, CLIENT_SECRET, JSONAPI};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// One server process.
pub struct Node {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    pub log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on `database_url` (PostgreSQL or `sqlite://`), with the
/// test bootstrap client, bcrypt cost 4, private webhook targets allowed
/// and quick webhook retries; `extra` variables come last and win. Its
/// output goes to `<dir>/<name>.log`.
pub fn spawn_node(
    database_url: &str,
    master_key: &str,
    dir: &Path,
    name: &str,
    extra: &[(&str, &str)],
) -> Node {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTCULLIS_DATA_DIR", dir.join("data"))
        .env("PORTCULLIS_SECURITY__BCRYPT_COST", "4")
        .env("PORTCULLIS_SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("PORTCULLIS_DATABASE__URL", database_url)
        .env("PORTCULLIS_DATABASE__POOL_SIZE", "4")
        .env("PORTCULLIS_SECRETS__MASTER_KEY", master_key)
        .env("PORTCULLIS_BOOTSTRAP__CLIENT_ID", CLIENT_ID)
        .env("PORTCULLIS_BOOTSTRAP__CLIENT_SECRET", CLIENT_SECRET)
        .env("PORTCULLIS_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
        .env("PORTCULLIS_WEBHOOKS__REQUEST_TIMEOUT_MS", "1000")
        .env("PORTCULLIS_WEBHOOKS__INITIAL_BACKOFF_MS", "100")
        .env("PORTCULLIS_WEBHOOKS__MAX_BACKOFF_SECONDS", "1")
        .env("PORTCULLIS_WEBHOOKS__POLL_INTERVAL_MS", "20");
    for (name, value) in extra {
        command.env(name, value);
    }
    let child = command
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .resolve("localhost", "127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    Node {
        child,
        base: format!("http://localhost:{port}"),
        client,
        log,
    }
}

impl Node {
    /// Waits (15 s at most) until `/health/ready` answers 200.
    pub async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(response) = self
                .client
                .get(format!("{}/health/ready", self.base))
                .send()
                .await
                && response.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server did not become ready: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client-credentials token request with HTTP Basic.
    pub async fn token_response(&self, id: &str, secret: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    }

    /// A Management API token of the bootstrap client.
    pub async fn token(&self) -> String {
        let response = self.token_response(CLIENT_ID, CLIENT_SECRET).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A request with a bearer token and, if given, a JSON:API body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request
                .header("content-type", JSONAPI)
                .body(body.to_string());
        }
        request.send().await
    }

    /// `GET path` without a token, which must answer 200; its JSON.
    pub async fn public_json(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `GET path`, which must answer 200; its document.
    pub async fn get_ok(&self, token: &str, path: &str) -> Value {
        let response = self
            .send(reqwest::Method::GET, path, token, None)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// `POST path`, which must answer 201; the created document.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Value {
        let response = self
            .send(reqwest::Method::POST, path, token, Some(body))
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "POST {path}");
        response.json().await.unwrap()
    }

    /// The resident set size of the process, in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// A confidential client made through the API with `attributes` (name,
    /// token format...) and a Management API grant of `scopes`: (record id,
    /// `client_id`, secret).
    pub async fn management_client(
        &self,
        token: &str,
        attributes: Value,
        scopes: &[&str],
    ) -> (String, String, String) {
        let api = self
            .get_ok(token, "/api/resource-servers?page[size]=500")
            .await["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|rs| rs["attributes"]["system"] == true)
            .map(|rs| rs["id"].as_str().unwrap().to_owned())
            .unwrap();
        let mut attributes = attributes;
        attributes["client_type"] = "confidential".into();
        let client = self
            .post(
                token,
                "/api/clients",
                &serde_json::json!({"data": {"type": "client", "attributes": attributes}}),
            )
            .await;
        let record = data_id(&client);
        self.post(
            token,
            "/api/client-grants",
            &serde_json::json!({"data": {"type": "client_grant",
                "attributes": {"allowed_scopes": scopes},
                "relationships": {
                    "client": {"data": {"type": "client", "id": record}},
                    "resource_server": {"data": {"type": "resource_server", "id": api}}}}}),
        )
        .await;
        let created = &client["data"]["attributes"];
        (
            record,
            created["client_id"].as_str().unwrap().to_owned(),
            created["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Sends SIGTERM (returns at once).
    pub fn signal_term(&self) {
        signal(self.child.id(), "-TERM");
    }

    /// Whether the process has not exited yet.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Sends SIGKILL (returns at once; [`Node::kill_9`] reaps).
    pub fn signal_kill(&self) {
        signal(self.child.id(), "-KILL");
    }

    /// SIGKILL, and reap.
    pub fn kill_9(&mut self) {
        signal(self.child.id(), "-KILL");
        let _ = self.child.wait();
    }

    /// The exit status, waiting `limit` at most.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

/// The `data.id` of a document.
pub fn data_id(document: &Value) -> String {
    document["data"]["id"].as_str().unwrap().to_owned()
}
