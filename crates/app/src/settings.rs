//! Configuration: built-in defaults < a TOML file (`--config FILE`, or
//! `portcullis.toml` in the working directory) < `PORTCULLIS_<SECTION>__<KEY>`
//! environment variables. Every value is checked at start-up, and a bad one
//! is an error naming the variable that sets it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// Everything the binary can be told.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded store and the generated master key live (`PORTCULLIS_DATA_DIR`).
    pub data_dir: PathBuf,
    /// HTTP.
    pub server: ServerSettings,
    /// The store.
    pub database: DatabaseSettings,
    /// Master key.
    pub secrets: SecretSettings,
    /// The default environment's bootstrap client.
    pub bootstrap: BootstrapSettings,
    /// Tokens and hashing.
    pub security: SecuritySettings,
    /// Logs.
    pub log: LogSettings,
    /// Webhook delivery.
    pub webhooks: WebhookSettings,
    /// Sessions of users.
    pub sessions: LifetimeSettings,
    /// Invitations into organizations.
    pub invitations: LifetimeSettings,
    /// JavaScript actions.
    pub actions: ActionSettings,
    /// What the janitor deletes, and when.
    pub retention: RetentionSettings,
    /// Rate limits of `/oauth/token` and `/api`.
    pub rate_limits: RateLimitSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
}

/// `[retention]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Seconds an opaque token's row is kept after it expired.
    pub access_token_grace_seconds: u32,
    /// Days audit events are kept; 0 keeps them forever.
    pub events_days: u32,
    /// Days webhook delivery attempts are kept; 0 keeps them forever.
    pub delivery_attempts_days: u32,
    /// Seconds between two runs.
    pub interval_seconds: u32,
    /// Rows deleted per transaction.
    pub batch: u32,
}

/// `[rate_limits]`: requests per window; 0 turns a limit off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// The window every limit counts over, in seconds.
    pub window_seconds: u32,
    /// `/oauth/token` requests per window from one TCP peer address.
    pub token_per_address: u32,
    /// `/oauth/token` requests per window naming one client.
    pub token_per_client: u32,
    /// `/api` requests per window of one authenticated client.
    pub api_per_client: u32,
    /// Invitation answers (public) per window from one TCP peer address.
    pub public_per_address: u32,
}

/// `[metrics]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve Prometheus text at `GET /metrics` (no token).
    pub enabled: bool,
}

/// `[actions]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSettings {
    /// Wall time of one run, in milliseconds.
    pub timeout_ms: u64,
    /// Memory one run's runtime may allocate, in bytes.
    pub memory_limit_bytes: usize,
    /// Threads running actions; 0 means one per core (at least 4).
    pub workers: usize,
    /// Threads one environment's runs may hold at once; 0 means half of
    /// the workers (at least 1).
    pub workers_per_environment: usize,
    /// Threads stuck in a native call past their deadline that may be
    /// abandoned (and replaced) at once; 0 means as many as the workers.
    pub abandoned_threads: usize,
    /// Seconds a node remembers each environment's actions for the token
    /// path (0: read the store every time; changes made on this node apply at once).
    pub cache_ttl_seconds: i64,
    /// Recorded runs kept per action (older ones are deleted).
    pub executions_kept: u32,
    /// Runs waiting to be recorded at most; past it records are dropped.
    pub execution_queue: usize,
}

/// `[sessions]` and `[invitations]`: how long a created thing lasts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifetimeSettings {
    /// Lifetime of one created without `expires_at`, in seconds.
    pub default_ttl_seconds: i64,
    /// Latest `expires_at` a create may ask for, in seconds from now.
    pub max_ttl_seconds: i64,
}

/// `[webhooks]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow `http` and loopback/private targets (development and tests only).
    pub allow_private_targets: bool,
    /// How long after an event a failing delivery is retried before it is marked failed.
    pub retry_horizon_seconds: u64,
    /// First retry delay, doubled for each further retry (with jitter).
    pub initial_backoff_ms: u64,
    /// Longest retry delay.
    pub max_backoff_seconds: u64,
    /// Time limit of one delivery request.
    pub request_timeout_ms: u64,
    /// Deliveries in flight at most per server process.
    pub concurrency: usize,
    /// Of which one webhook may hold at most this many.
    pub concurrency_per_webhook: u32,
    /// Of which one environment may hold at most this many.
    pub concurrency_per_environment: u32,
    /// Wait between polls of the outbox when nothing is due.
    pub poll_interval_ms: u64,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Listen address.
    pub bind: String,
    /// Issuer base of the default environment; empty means `http://localhost:<port>`.
    pub public_url: String,
    /// Hosts `SLUG.<base_domain>` select environment `SLUG`.
    pub base_domain: String,
    /// Largest request body, bytes.
    pub body_limit: usize,
    /// Longest request target (path and query string), bytes.
    pub max_uri_bytes: usize,
    /// Most bytes of request header fields in all, bytes.
    pub max_header_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds to let in-flight requests finish on shutdown.
    pub shutdown_timeout_seconds: u64,
}

/// `[database]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://...`, `sqlite://PATH`; empty means `sqlite://<data_dir>/portcullis.db`.
    pub url: String,
    /// Pooled connections (SQLite uses at most 4).
    pub pool_size: u32,
    /// Seconds to wait for a new connection, and for one another call holds.
    pub connect_timeout_seconds: u64,
    /// Milliseconds a store call waits for the pool to open a connection.
    pub checkout_timeout_ms: u64,
    /// Milliseconds store calls are refused at once after one could not get a connection; 0: off.
    pub circuit_open_ms: u64,
    /// Apply pending migrations when serving.
    pub run_migrations: bool,
    /// PostgreSQL: milliseconds between two reads of the changes other nodes
    /// announce; `0` turns the listener off.
    pub change_poll_interval_ms: u64,
}

/// `[secrets]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSettings {
    /// Base64 of 32 bytes; empty means generated into the data dir (embedded store only).
    pub master_key: SecretString,
}

/// `[bootstrap]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    /// The bootstrap client's `client_id`; empty means random.
    pub client_id: String,
    /// Its secret; empty means random, printed once.
    pub client_secret: SecretString,
}

/// `[security]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// bcrypt cost for passwords.
    pub bcrypt_cost: u32,
    /// Seconds of clock skew tolerated on `exp`.
    pub token_leeway_seconds: i64,
    /// Seconds a node keeps an environment's keys before re-reading them
    /// (changes made on this node apply at once).
    pub key_cache_ttl_seconds: i64,
    /// Seconds a node remembers a client with its grant for token requests
    /// (0: read the store every time; changes made on this node apply at once).
    pub client_cache_ttl_seconds: i64,
}

/// `[log]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// A `tracing` filter (`info`, `portcullis=debug,info`); `RUST_LOG` wins.
    pub level: String,
}

const DEFAULTS: &str = include_str!("../../../config/default.toml");

/// A setting that cannot be used, naming what sets it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);

fn variable(key: &str) -> String {
    match key.split_once('.') {
        Some((section, name)) => format!(
            "PORTCULLIS_{}__{}",
            section.to_uppercase(),
            name.to_uppercase()
        ),
        None => format!("PORTCULLIS_{}", key.to_uppercase()),
    }
}

impl Settings {
    /// Loads the layers; `file` is `--config`, else `portcullis.toml` when present.
    ///
    /// # Errors
    /// [`SettingsError`] naming the variable of a bad value, or a missing file.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(SettingsError(format!(
                        "configuration file {} does not exist",
                        path.display()
                    )));
                }
                builder =
                    builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
            }
            None => {
                builder = builder.add_source(
                    config::File::with_name("portcullis.toml")
                        .format(config::FileFormat::Toml)
                        .required(false),
                )
            }
        }
        let built = builder
            .add_source(
                config::Environment::with_prefix("PORTCULLIS")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .map_err(|e| SettingsError(format!("configuration: {e}")))?;
        let settings: Self = built.try_deserialize().map_err(|e| {
            let text = e.to_string();
            let hint = offending_key(&text)
                .map(|key| format!(" (set by {} or the configuration file)", variable(&key)))
                .unwrap_or_default();
            SettingsError(format!("configuration: {text}{hint}"))
        })?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let bad = |key: &str, why: String| Err(SettingsError(format!("{}: {why}", variable(key))));
        if self.bind_address().is_none() {
            return bad(
                "server.bind",
                format!(
                    "`{}` is not an address such as 127.0.0.1:8080",
                    self.server.bind
                ),
            );
        }
        if self.issuer_template().is_none() {
            return bad(
                "server.public_url",
                format!(
                    "`{}` is not an http(s) URL without path",
                    self.server.public_url
                ),
            );
        }
        if self.server.base_domain.trim().is_empty() {
            return bad("server.base_domain", "must not be empty".into());
        }
        if self.server.body_limit < 1024 {
            return bad("server.body_limit", "must be at least 1024 bytes".into());
        }
        // actix-http refuses heads of 128 KiB and more itself (a bare 431).
        if !(1024..=65_536).contains(&self.server.max_uri_bytes) {
            return bad("server.max_uri_bytes", "must be from 1024 to 65536".into());
        }
        if !(1024..=65_536).contains(&self.server.max_header_bytes) {
            return bad(
                "server.max_header_bytes",
                "must be from 1024 to 65536".into(),
            );
        }
        if !(4..=31).contains(&self.security.bcrypt_cost) {
            return bad("security.bcrypt_cost", "must be from 4 to 31".into());
        }
        if !(0..=3600).contains(&self.security.token_leeway_seconds) {
            return bad(
                "security.token_leeway_seconds",
                "must be from 0 to 3600".into(),
            );
        }
        if !(1..=86_400).contains(&self.security.key_cache_ttl_seconds) {
            return bad(
                "security.key_cache_ttl_seconds",
                "must be from 1 to 86400".into(),
            );
        }
        if !(0..=86_400).contains(&self.security.client_cache_ttl_seconds) {
            return bad(
                "security.client_cache_ttl_seconds",
                "must be from 0 to 86400".into(),
            );
        }
        if !(1..=3600).contains(&self.rate_limits.window_seconds) {
            return bad(
                "rate_limits.window_seconds",
                "must be from 1 to 3600".into(),
            );
        }
        for (key, value) in [
            ("token_per_address", self.rate_limits.token_per_address),
            ("token_per_client", self.rate_limits.token_per_client),
            ("api_per_client", self.rate_limits.api_per_client),
            ("public_per_address", self.rate_limits.public_per_address),
        ] {
            if value > 1_000_000 {
                return bad(
                    &format!("rate_limits.{key}"),
                    "must be from 0 (off) to 1000000 requests per window".into(),
                );
            }
        }
        let hooks = &self.webhooks;
        if !(1..=2_592_000).contains(&hooks.retry_horizon_seconds) {
            return bad(
                "webhooks.retry_horizon_seconds",
                "must be from 1 to 2592000 (30 days)".into(),
            );
        }
        if !(1..=3_600_000).contains(&hooks.initial_backoff_ms) {
            return bad(
                "webhooks.initial_backoff_ms",
                "must be from 1 to 3600000".into(),
            );
        }
        if !(1..=86_400).contains(&hooks.max_backoff_seconds) {
            return bad(
                "webhooks.max_backoff_seconds",
                "must be from 1 to 86400".into(),
            );
        }
        if !(100..=300_000).contains(&hooks.request_timeout_ms) {
            return bad(
                "webhooks.request_timeout_ms",
                "must be from 100 to 300000".into(),
            );
        }
        if !(1..=1024).contains(&hooks.concurrency) {
            return bad("webhooks.concurrency", "must be from 1 to 1024".into());
        }
        for (key, value) in [
            ("concurrency_per_webhook", hooks.concurrency_per_webhook),
            (
                "concurrency_per_environment",
                hooks.concurrency_per_environment,
            ),
        ] {
            if !(1..=1024).contains(&value) {
                return bad(&format!("webhooks.{key}"), "must be from 1 to 1024".into());
            }
        }
        if !(10..=60_000).contains(&hooks.poll_interval_ms) {
            return bad(
                "webhooks.poll_interval_ms",
                "must be from 10 to 60000".into(),
            );
        }
        for (section, lifetime) in [
            ("sessions", &self.sessions),
            ("invitations", &self.invitations),
        ] {
            if !(1..=315_360_000).contains(&lifetime.max_ttl_seconds) {
                return bad(
                    &format!("{section}.max_ttl_seconds"),
                    "must be from 1 to 315360000 (ten years)".into(),
                );
            }
            if !(1..=lifetime.max_ttl_seconds).contains(&lifetime.default_ttl_seconds) {
                return bad(
                    &format!("{section}.default_ttl_seconds"),
                    format!("must be from 1 to {section}.max_ttl_seconds"),
                );
            }
        }
        if !(1..=60_000).contains(&self.actions.timeout_ms) {
            return bad("actions.timeout_ms", "must be from 1 to 60000".into());
        }
        if !(1024 * 1024..=4 * 1024 * 1024 * 1024).contains(&self.actions.memory_limit_bytes) {
            return bad(
                "actions.memory_limit_bytes",
                "must be from 1048576 (1 MiB) to 4294967296 (4 GiB)".into(),
            );
        }
        if self.actions.workers > 256 {
            return bad("actions.workers", "must be from 0 to 256".into());
        }
        if self.actions.workers_per_environment > self.action_workers() {
            return bad(
                "actions.workers_per_environment",
                "must be from 0 to actions.workers".into(),
            );
        }
        if self.actions.abandoned_threads > 256 {
            return bad("actions.abandoned_threads", "must be from 0 to 256".into());
        }
        if !(0..=86_400).contains(&self.actions.cache_ttl_seconds) {
            return bad(
                "actions.cache_ttl_seconds",
                "must be from 0 to 86400".into(),
            );
        }
        if !(1..=1_000_000).contains(&self.actions.executions_kept) {
            return bad(
                "actions.executions_kept",
                "must be from 1 to 1000000".into(),
            );
        }
        if !(1..=1_000_000).contains(&self.actions.execution_queue) {
            return bad(
                "actions.execution_queue",
                "must be from 1 to 1000000".into(),
            );
        }
        if !["pretty", "json"].contains(&self.log.format.as_str()) {
            return bad(
                "log.format",
                format!("`{}` is neither pretty nor json", self.log.format),
            );
        }
        if self.retention.interval_seconds == 0 {
            return bad("retention.interval_seconds", "must be at least 1".into());
        }
        if !(1..=100_000).contains(&self.retention.batch) {
            return bad("retention.batch", "must be from 1 to 100000".into());
        }
        if self.database.pool_size == 0 {
            return bad("database.pool_size", "must be at least 1".into());
        }
        if !(10..=60_000).contains(&self.database.checkout_timeout_ms) {
            return bad(
                "database.checkout_timeout_ms",
                "must be from 10 to 60000".into(),
            );
        }
        if self.database.circuit_open_ms > 60_000 {
            return bad(
                "database.circuit_open_ms",
                "must be from 0 (off) to 60000".into(),
            );
        }
        if !self.database.url.is_empty()
            && !["postgres://", "postgresql://", "sqlite:"]
                .iter()
                .any(|p| self.database.url.starts_with(p))
        {
            return bad(
                "database.url",
                "must start with postgres://, postgresql:// or sqlite:".into(),
            );
        }
        Ok(())
    }

    /// The listen address.
    #[must_use]
    pub fn bind_address(&self) -> Option<SocketAddr> {
        self.server.bind.parse().ok()
    }

    /// The store URL, defaulting to the embedded file in the data dir.
    #[must_use]
    pub fn database_url(&self) -> String {
        if self.database.url.is_empty() {
            format!("sqlite://{}", self.data_dir.join("portcullis.db").display())
        } else {
            self.database.url.clone()
        }
    }

    /// Threads running actions: the configured number, or one per core (at least 4).
    #[must_use]
    pub fn action_workers(&self) -> usize {
        if self.actions.workers > 0 {
            return self.actions.workers;
        }
        std::thread::available_parallelism()
            .map_or(4, std::num::NonZeroUsize::get)
            .max(4)
    }

    /// Threads one environment's action runs may hold at once: the
    /// configured number, or half of the workers (at least 1).
    #[must_use]
    pub fn action_workers_per_environment(&self) -> usize {
        match self.actions.workers_per_environment {
            0 => (self.action_workers() / 2).max(1),
            configured => configured,
        }
    }

    /// Action threads that may be abandoned at once: the configured number,
    /// or as many as the workers.
    #[must_use]
    pub fn action_abandoned_threads(&self) -> usize {
        match self.actions.abandoned_threads {
            0 => self.action_workers(),
            configured => configured,
        }
    }

    /// The janitor's policy.
    #[must_use]
    pub fn retention_policy(&self) -> portcullis_application::retention::RetentionPolicy {
        let r = &self.retention;
        portcullis_application::retention::RetentionPolicy {
            access_token_grace_seconds: i64::from(r.access_token_grace_seconds),
            events_days: r.events_days,
            delivery_attempts_days: r.delivery_attempts_days,
            batch: r.batch,
            interval: std::time::Duration::from_secs(u64::from(r.interval_seconds)),
        }
    }

    /// The limits of request heads.
    #[must_use]
    pub fn head_limits(&self) -> portcullis_adapters_http::head::HeadLimits {
        portcullis_adapters_http::head::HeadLimits {
            max_uri_bytes: self.server.max_uri_bytes,
            max_header_bytes: self.server.max_header_bytes,
        }
    }

    /// Whether the store is PostgreSQL.
    #[must_use]
    pub fn uses_postgres(&self) -> bool {
        self.database_url().starts_with("postgres")
    }

    /// Scheme, host and port of the default environment's issuer.
    #[must_use]
    pub fn issuer_template(&self) -> Option<portcullis_application::environments::IssuerTemplate> {
        let raw = if self.server.public_url.is_empty() {
            format!(
                "http://localhost:{}",
                self.bind_address().map_or(8080, |a| a.port())
            )
        } else {
            self.server.public_url.clone()
        };
        let url = url::Url::parse(&raw).ok()?;
        let path_ok = url.path() == "/" || url.path().is_empty();
        if !["http", "https"].contains(&url.scheme())
            || !path_ok
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return None;
        }
        Some(portcullis_application::environments::IssuerTemplate {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port(),
        })
    }
}

/// The dotted key a `config` error is about: `server.body_limit` for a bad
/// value, `server.bindd` for an unknown field of `[server]`.
fn offending_key(message: &str) -> Option<String> {
    let key = message
        .rsplit_once("for key `")
        .and_then(|(_, rest)| rest.split('`').next());
    let unknown = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    match (unknown, key) {
        (Some(field), Some(section)) => Some(format!("{section}.{field}")),
        (Some(field), None) => Some(field.to_owned()),
        (None, key) => key.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::{Settings, offending_key, variable};

    #[test]
    fn action_thread_settings_derive_from_the_workers_and_are_checked() {
        let mut settings = Settings::load(None).expect("defaults load");
        settings.actions.workers = 6;
        assert_eq!(settings.action_workers_per_environment(), 3);
        assert_eq!(settings.action_abandoned_threads(), 6);
        settings.actions.workers = 1;
        assert_eq!(settings.action_workers_per_environment(), 1);
        settings.actions.workers_per_environment = 2;
        let error = settings.check().expect_err("more than the workers");
        assert!(
            error
                .to_string()
                .contains("PORTCULLIS_ACTIONS__WORKERS_PER_ENVIRONMENT"),
            "{error}"
        );
        settings.actions.workers = 0;
        assert!(settings.action_workers() >= 4);
        settings.check().expect("two of at least four");
        assert_eq!(settings.action_workers_per_environment(), 2);
        settings.actions.abandoned_threads = 257;
        let error = settings.check().expect_err("over 256");
        assert!(
            error
                .to_string()
                .contains("PORTCULLIS_ACTIONS__ABANDONED_THREADS"),
            "{error}"
        );
    }

    #[test]
    fn errors_name_the_offending_key() {
        assert_eq!(
            offending_key("invalid type: string \"abc\", expected an integer for key `server.body_limit` in the environment").as_deref(),
            Some("server.body_limit")
        );
        assert_eq!(
            offending_key(
                "unknown field `bindd`, expected one of `bind`, `public_url` for key `server`"
            )
            .as_deref(),
            Some("server.bindd")
        );
        assert_eq!(
            offending_key("unknown field `colour`, expected one of `data_dir`").as_deref(),
            Some("colour")
        );
    }

    #[test]
    fn keys_name_their_environment_variables() {
        assert_eq!(variable("server.bind"), "PORTCULLIS_SERVER__BIND");
        assert_eq!(variable("data_dir"), "PORTCULLIS_DATA_DIR");
    }
}
