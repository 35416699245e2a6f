//! `spawn_app`: the real server on a random port over a fresh database, and
//! a client that reaches its environments by host name.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use portcullis_adapters_postgres::DieselStore;
use portcullis_adapters_postgres::testing::TestDatabase;
use portcullis_app::settings::Settings;
use portcullis_app::wiring::{master_key, migrate, open_store, wire};
use portcullis_application::environments::{BootstrapCredentials, EnvironmentService};
use secrecy::SecretString;
use serde_json::{Value, json};

/// Which store a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Store {
    Postgres,
    Sqlite,
}

pub const CLIENT_ID: &str = "bootstrap-client";
pub const CLIENT_SECRET: &str = "a-bootstrap-secret-of-at-least-32-characters";
/// The bootstrap client of the `staging` environment ([`TestApp::create_staging`]).
pub const STAGING_CLIENT_ID: &str = "staging-client";
pub const STAGING_CLIENT_SECRET: &str = "staging-secret-staging-secret-staging";
pub const JSONAPI: &str = "application/vnd.api+json";

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://localhost:PORT`, the default environment's issuer.
    pub base: String,
    pub client: reqwest::Client,
    pub environments: Arc<EnvironmentService<DieselStore>>,
    pub store: Arc<DieselStore>,
    _data_dir: tempfile::TempDir,
    /// Hears other nodes' changes (PostgreSQL); stopped before `db` drops.
    _changes: Option<portcullis_adapters_postgres::ChangeListener>,
    pub db: TestDatabase,
    /// The master key the server encrypts with (to check ciphertext at rest).
    pub master_key: [u8; 32],
    /// Stops the webhook delivery worker when dropped or sent `true`.
    _stop_deliveries: tokio::sync::watch::Sender<bool>,
}

pub async fn spawn_app(store: Store) -> TestApp {
    spawn_app_with(store, |_| {}).await
}

/// As [`spawn_app`], with settings changed by `tweak` first.
pub async fn spawn_app_with(store: Store, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = match store {
        Store::Postgres => TestDatabase::postgres(),
        Store::Sqlite => TestDatabase::sqlite(),
    };
    spawn_app_on(db, tweak).await
}

/// As [`spawn_app_with`], on a given database (several servers may share one).
pub async fn spawn_app_on(db: TestDatabase, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    portcullis_adapters_crypto::init();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::load(None).expect("default settings load");
    settings.data_dir = data_dir.path().to_owned();
    settings.database.url = db.url.clone();
    settings.database.pool_size = 4;
    settings.database.connect_timeout_seconds = 1;
    settings.server.bind = addr.to_string();
    settings.server.public_url = format!("http://localhost:{}", addr.port());
    settings.server.body_limit = 64 * 1024;
    settings.security.bcrypt_cost = 4;
    settings.secrets.master_key =
        SecretString::from(portcullis_adapters_crypto::generate_master_key());
    tweak(&mut settings);
    let opened = open_store(&settings).expect("open store");
    migrate(&opened).expect("migrate");
    let master = master_key(&settings).expect("master key");
    let wired = wire(&settings, opened, &master).expect("wire");
    let bootstrap = BootstrapCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: SecretString::from(CLIENT_SECRET),
    };
    wired
        .state
        .environments
        .ensure_default(Some(bootstrap))
        .await
        .expect("default environment");
    let environments = Arc::clone(&wired.state.environments);
    let store_handle = Arc::clone(&wired.store);
    let (stop_deliveries, _) = portcullis_app::server::start_deliveries(wired.deliveries);
    let changes = wired.changes;
    let server = portcullis_app::server::start(
        wired.state,
        listener,
        1,
        1,
        settings.head_limits(),
        wired.metrics,
    )
    .expect("server starts");
    actix_web::rt::spawn(server);
    // No idle connection reuse: the server closes idle keep-alive connections
    // after 5 s, and a request racing that close fails on the client side.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .resolve("localhost", addr)
        .resolve("staging.localhost", addr)
        .resolve("other.localhost", addr)
        .build()
        .expect("client");
    TestApp {
        addr,
        base: format!("http://localhost:{}", addr.port()),
        client,
        environments,
        store: store_handle,
        _data_dir: data_dir,
        _changes: changes,
        db,
        master_key: master,
        _stop_deliveries: stop_deliveries,
    }
}

impl TestApp {
    /// The issuer of environment `slug`.
    pub fn issuer(&self, slug: &str) -> String {
        if slug == "default" {
            self.base.clone()
        } else {
            format!("http://{slug}.localhost:{}", self.addr.port())
        }
    }

    /// Creates the `staging` environment, whose bootstrap client is
    /// [`STAGING_CLIENT_ID`]; its issuer.
    pub async fn create_staging(&self) -> String {
        self.environments
            .create(
                "staging",
                Some(BootstrapCredentials {
                    client_id: STAGING_CLIENT_ID.into(),
                    client_secret: SecretString::from(STAGING_CLIENT_SECRET),
                }),
            )
            .await
            .expect("create staging");
        self.issuer("staging")
    }

    /// The token endpoint's answer to `staging`'s bootstrap client.
    pub async fn staging_token_response(&self) -> reqwest::Response {
        self.client
            .post(format!("{}/oauth/token", self.issuer("staging")))
            .basic_auth(STAGING_CLIENT_ID, Some(STAGING_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("staging token request")
    }

    /// An access token of `staging`'s bootstrap client.
    pub async fn staging_token(&self) -> String {
        let response = self.staging_token_response().await;
        assert_eq!(response.status(), 200, "staging token request failed");
        let body: Value = response.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A client-credentials token response for the bootstrap client.
    pub async fn token_response(&self, form: &[(&str, &str)]) -> reqwest::Response {
        let mut body = vec![("grant_type", "client_credentials")];
        body.extend_from_slice(form);
        self.client
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&body)
            .send()
            .await
            .expect("token request")
    }

    /// An access token with every granted scope, or the given ones.
    pub async fn token(&self, scope: Option<&str>) -> String {
        let form: Vec<(&str, &str)> = scope.map(|s| vec![("scope", s)]).unwrap_or_default();
        let response = self.token_response(&form).await;
        assert_eq!(response.status(), 200, "token request failed");
        let body: Value = response.json().await.expect("token json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn delete(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", JSONAPI)
            .body(body.to_string())
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, token, body)
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PATCH, path, token, body)
            .await
    }

    /// Creates a permission and returns its resource object.
    pub async fn create_permission(&self, token: &str, name: &str) -> Value {
        let response = self
            .post(
                "/api/permissions",
                token,
                &json!({"data": {"type": "permission", "attributes": {"name": name}}}),
            )
            .await;
        assert_eq!(response.status(), 201, "create permission {name}");
        let body: Value = response.json().await.expect("json");
        body["data"].clone()
    }

    /// Creates a role and returns its resource object.
    pub async fn create_role(&self, token: &str, name: &str) -> Value {
        let response = self
            .post(
                "/api/roles",
                token,
                &json!({"data": {"type": "role", "attributes": {"name": name}}}),
            )
            .await;
        assert_eq!(response.status(), 201, "create role {name}");
        let body: Value = response.json().await.expect("json");
        body["data"].clone()
    }

    /// Grants a permission to a role; returns the raw response.
    pub async fn grant(&self, token: &str, role: &str, permission: &str) -> reqwest::Response {
        self.post(
            "/api/role-permissions",
            token,
            &json!({"data": {"type": "role_permission", "attributes": {}, "relationships": {
                "role": {"data": {"type": "role", "id": role}},
                "permission": {"data": {"type": "permission", "id": permission}}
            }}}),
        )
        .await
    }

    /// Assigns a role to a user; returns the raw response.
    pub async fn assign(&self, token: &str, user: &str, role: &str) -> reqwest::Response {
        self.post(
            "/api/user-roles",
            token,
            &json!({"data": {"type": "user_role", "attributes": {}, "relationships": {
                "user": {"data": {"type": "user", "id": user}},
                "role": {"data": {"type": "role", "id": role}}
            }}}),
        )
        .await
    }

    /// Creates a user and returns its resource object.
    pub async fn create_user(&self, token: &str, email: &str) -> Value {
        let response = self
            .post(
                "/api/users",
                token,
                &json!({"data": {"type": "user", "attributes": {"email": email}}}),
            )
            .await;
        assert_eq!(response.status(), 201, "create user {email}");
        let body: Value = response.json().await.expect("json");
        body["data"].clone()
    }
}

/// Reads a JSON body, checking the JSON:API media type. With
/// `JSONAPI_CAPTURE_DIR` set, the document is also written there, for the
/// test script to validate against the JSON:API JSON Schema.
pub async fn jsonapi(response: reqwest::Response) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, JSONAPI, "JSON:API media type");
    let document: Value = response.json().await.expect("JSON body");
    if let Some(dir) = std::env::var_os("JSONAPI_CAPTURE_DIR") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("capture dir");
        let file = dir.join(format!("{}.json", ulid::Ulid::generate()));
        std::fs::write(file, document.to_string()).expect("capture");
    }
    document
}

/// Asserts a JSON:API error document with one error of `status` and `code`; returns the error object.
pub async fn expect_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let body = jsonapi(response).await;
    let error = body["errors"][0].clone();
    assert_eq!(error["status"], status.to_string(), "{body}");
    assert_eq!(error["code"], code, "{body}");
    assert!(
        error["title"].is_string() && error["detail"].is_string(),
        "{body}"
    );
    error
}

/// Runs each named `async fn name(store: Store)` on PostgreSQL and on SQLite.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod postgres {
            $( #[actix_web::test] async fn $name() { super::$name($crate::support::Store::Postgres).await } )*
        }
        mod sqlite {
            $( #[actix_web::test] async fn $name() { super::$name($crate::support::Store::Sqlite).await } )*
        }
    };
}

/// The decoded JSON of a JWT's segment `n` (0: header, 1: claims).
pub fn jwt_segment(token: &str, n: usize) -> Value {
    use base64::Engine as _;
    let encoded = token.split('.').nth(n).expect("a JWT segment");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}
