//! # portcullis-adapters-postgres
//!
//! The store: every repository of `portcullis_ports::store` on PostgreSQL or
//! on an embedded SQLite file, through one code path. This is the only crate
//! that sees diesel; nothing diesel-shaped leaves it.
//!
//! - [`DieselStore::connect`] picks the backend from the URL scheme and
//!   builds an r2d2 pool of a two-backend connection enum (diesel's
//!   `MultiConnection`); [`DieselStore::run_migrations`] applies the embedded
//!   migrations of that backend.
//! - [`DieselStore`] is the [`UnitOfWork`](portcullis_ports::store::UnitOfWork):
//!   each call runs on tokio's blocking pool with one pooled connection.
//! - Unique violations become `StoreError::Conflict` by constraint name;
//!   a store that cannot be reached is `StoreError::Unavailable`.
//!
//! With the `test-support` feature, [`testing::TestDatabase`] gives tests a
//! fresh migrated database of either backend.
#![deny(missing_docs)]

mod breaker;
mod changes;
mod conn;
mod error;
mod migrate;
mod repos;
mod rows;
mod schema;
#[cfg(feature = "test-support")]
pub mod testing;
mod uow;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use diesel::r2d2::{HandleError, ManageConnection, Pool};
use portcullis_ports::changes::ChangeSink;
use portcullis_ports::store::StoreError;

pub use crate::changes::{ChangeListener, ListenerConfig};

use crate::breaker::Breaker;
use crate::conn::{ConnectError, Manager, SqlitePragmas, Target};

/// Where the store lives and how many connections it may hold.
#[derive(Clone)]
pub struct StoreConfig {
    /// `postgres://…` / `postgresql://…` (a libpq URI), or `sqlite://PATH` /
    /// `sqlite:PATH` for an embedded database file (created if missing).
    pub url: String,
    /// Largest number of pooled connections; SQLite uses at most 4.
    pub pool_size: u32,
    /// How long to wait for a new connection (libpq's `connect_timeout`,
    /// and the first connection at start), and for a pooled connection
    /// another call holds.
    pub connect_timeout: Duration,
    /// How long a call waits for the pool to hand it a connection it must
    /// open (no idle one): past it the call fails with
    /// `StoreError::Unavailable` and the circuit breaker opens.
    pub checkout_timeout: Duration,
    /// How long the circuit breaker refuses calls at once after a call
    /// could not get a connection, before letting one through to try
    /// again; zero turns the breaker off.
    pub circuit_open: Duration,
}

impl StoreConfig {
    /// A configuration for `url` with the application's defaults: 8
    /// connections, a 5-second connect timeout, a 1-second checkout
    /// timeout and a 1-second open circuit.
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            checkout_timeout: Duration::from_secs(1),
            circuit_open: Duration::from_secs(1),
        }
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_password(&self.url))
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("circuit_open", &self.circuit_open)
            .finish()
    }
}

/// The URL with the password of its user info replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// An embedded SQLite file.
    Sqlite,
}

impl Backend {
    /// `postgres` or `sqlite`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store: a pool of connections to PostgreSQL or to a SQLite file.
/// Cloning is cheap and shares the pool.
#[derive(Clone)]
pub struct DieselStore {
    pool: Pool<Manager>,
    backend: Backend,
    /// One permit per pooled connection: a unit of work waits for a permit
    /// as a future on the async runtime, so the blocking pool never holds
    /// more threads than there are connections to use.
    permits: Arc<Semaphore>,
    /// The longest wait for a permit (another call's connection).
    wait: Duration,
    /// The longest wait for the pool to open a connection.
    checkout: Duration,
    /// Refuses calls at once while the database is known to be unreachable.
    breaker: Arc<Breaker>,
    /// The PostgreSQL URL the change listener connects to.
    listen_url: Option<String>,
}

impl fmt::Debug for DieselStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("DieselStore")
            .field("backend", &self.backend)
            .field("max_size", &self.pool.max_size())
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

/// A snapshot of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Most connections the pool opens.
    pub max_size: u32,
    /// Connections open now (idle or in use).
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Units of work holding a connection now (at most `max_size`; callers
    /// beyond it wait for one).
    pub in_use: u32,
}

/// Logs the pool's background connection failures through `tracing`.
#[derive(Debug, Clone, Copy)]
struct TracingErrors;

impl HandleError<ConnectError> for TracingErrors {
    fn handle_error(&self, error: ConnectError) {
        tracing::warn!(error = %error, "database connection failed");
    }
}

/// Most connections a SQLite store opens: one writer at a time anyway.
const SQLITE_POOL_MAX: u32 = 4;

impl DieselStore {
    /// Connects to the store `config.url` names and builds the pool.
    ///
    /// The scheme picks the backend: `postgres://` or `postgresql://` for
    /// PostgreSQL; `sqlite://PATH` or `sqlite:PATH` for a SQLite file, which
    /// is created if missing, with its directory (`sqlite::memory:` is
    /// refused: each pooled connection would open its own empty database).
    /// One connection is opened at once so that a bad URL or an unreachable
    /// server fails here, with the backend's own reason; the pool opens the
    /// rest on demand and replaces connections that break, so the store
    /// recovers by itself when the database comes back. A failed PostgreSQL
    /// connection never falls back to SQLite.
    ///
    /// Blocks while connecting.
    ///
    /// # Errors
    /// - `StoreError::Backend` for a URL whose scheme is not one of the
    ///   above (the source names the scheme) or that lacks a path;
    /// - `StoreError::Unavailable` when the first connection fails (the
    ///   source carries libpq's or SQLite's message).
    pub fn connect(config: &StoreConfig) -> Result<Self, StoreError> {
        let target = Target::parse(&config.url, config.connect_timeout)
            .map_err(|err| StoreError::Backend(Box::new(err)))?;
        let backend = target.backend();
        let listen_url = match &target {
            Target::Postgres(url) => Some(url.clone()),
            Target::Sqlite(_) => None,
        };
        let manager = Manager::new(target);
        let mut probe = manager
            .connect()
            .map_err(|err| StoreError::Unavailable(Box::new(err)))?;
        conn::set_up(&mut probe.conn).map_err(|err| StoreError::Unavailable(Box::new(err)))?;
        drop(probe);
        let max_size = match backend {
            Backend::Postgres => config.pool_size.max(1),
            Backend::Sqlite => config.pool_size.clamp(1, SQLITE_POOL_MAX),
        };
        let checkout = config.checkout_timeout.max(Duration::from_millis(1));
        let pool = Pool::builder()
            .max_size(max_size)
            .min_idle(Some(1))
            // The default wait of `get()`, and twice the longest pause
            // between the pool's attempts to reconnect in the background:
            // after an outage it reconnects within half the checkout timeout.
            .connection_timeout(checkout)
            // Pinging on every check-out costs a round trip per request;
            // connections are checked after a failed unit of work instead
            // (see `conn::PooledConn`).
            .test_on_check_out(false)
            .error_handler(Box::new(TracingErrors))
            .connection_customizer(Box::new(SqlitePragmas))
            .build_unchecked(manager);
        tracing::debug!(backend = %backend, max_size, "store connected");
        Ok(Self {
            pool,
            backend,
            permits: Arc::new(Semaphore::new(usize::try_from(max_size).unwrap_or(1))),
            wait: config.connect_timeout.max(Duration::from_millis(1)),
            checkout,
            breaker: Arc::new(Breaker::new(
                config.circuit_open,
                // A probe reports within the checkout timeout; this only
                // guards against one that never does.
                checkout.saturating_mul(2) + Duration::from_secs(1),
            )),
            listen_url,
        })
    }

    /// Applies the embedded migrations of the store's backend that have not
    /// run yet; returns how many ran. On PostgreSQL an advisory lock keeps
    /// concurrent runs (several replicas starting at once) apart.
    ///
    /// Blocks while migrating: call it before serving, or from a blocking task.
    ///
    /// # Errors
    /// `StoreError::Unavailable` without a connection; `StoreError::Backend`
    /// when a migration fails (it is rolled back).
    pub fn run_migrations(&self) -> Result<usize, StoreError> {
        let mut pooled = self
            .pool
            .get_timeout(self.wait)
            .map_err(|err| StoreError::Unavailable(Box::new(err)))?;
        let applied = migrate::run_pending(&mut pooled.conn);
        pooled.suspect = applied.is_err();
        let applied = applied.map_err(StoreError::Backend)?;
        // Logged under the store's name, not this crate's (which also
        // serves SQLite): `portcullis::store: migrations applied store=sqlite`.
        tracing::info!(target: "portcullis::store", store = %self.backend, applied, "migrations applied");
        Ok(applied)
    }

    /// Starts hearing the changes other nodes announce (see
    /// [`portcullis_ports::changes`]), handing them to `sink`; `None` on
    /// SQLite, which only one node serves. The listener runs on a thread of
    /// its own with its own connection, and stops when dropped.
    ///
    /// # Errors
    /// `StoreError::Backend` when the thread cannot be started.
    pub fn listen_for_changes(
        &self,
        sink: Arc<dyn ChangeSink>,
        config: ListenerConfig,
    ) -> Result<Option<ChangeListener>, StoreError> {
        let Some(url) = &self.listen_url else {
            return Ok(None);
        };
        ChangeListener::start(url.clone(), sink, config)
            .map(Some)
            .map_err(|err| StoreError::Backend(Box::new(err)))
    }

    /// The database engine behind the store.
    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool's state now, for metrics.
    #[must_use]
    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        let max = self.pool.max_size();
        let available = u32::try_from(self.permits.available_permits()).unwrap_or(max);
        PoolStatus {
            max_size: max,
            connections: state.connections,
            idle: state.idle_connections,
            in_use: max.saturating_sub(available),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_password() {
        let config = StoreConfig::new("postgres://app:s3cret@db:5432/portcullis?sslmode=require");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("postgres://app:***@db:5432/portcullis?sslmode=require"));
        assert_eq!(redact_password("sqlite:///var/p.db"), "sqlite:///var/p.db");
        assert_eq!(
            redact_password("postgres://app@db/x"),
            "postgres://app@db/x"
        );
    }

    #[test]
    fn backends_have_stable_names() {
        assert_eq!(Backend::Postgres.as_str(), "postgres");
        assert_eq!(Backend::Sqlite.to_string(), "sqlite");
    }
}
