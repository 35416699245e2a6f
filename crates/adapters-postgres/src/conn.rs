//! Connections: the enum over both backends, the URL dispatch that picks
//! one, and the r2d2 manager that opens them.
//!
//! diesel's own `MultiConnection::establish` tries every backend in turn and
//! throws their errors away (a `postgres://` URL can even be opened as a
//! SQLite *file name*), so this module never calls it: the URL scheme picks
//! the backend, and the backend's real error is kept.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, R2D2Connection};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};

use crate::Backend;

/// One connection of either backend. The derive generates `MultiBackend`,
/// the backend type every shared query is written for.
#[derive(diesel::MultiConnection)]
pub(crate) enum AnyConnection {
    /// A PostgreSQL connection.
    Postgres(PgConnection),
    /// A SQLite connection.
    Sqlite(SqliteConnection),
}

impl AnyConnection {
    /// Which backend this connection talks to.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Where a [`crate::StoreConfig::url`] points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A libpq connection URI.
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
}

/// A database URL the store cannot use.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum UrlError {
    /// No `scheme:` prefix.
    #[error("database URL has no scheme: use postgres://, postgresql:// or sqlite://PATH")]
    NoScheme,
    /// A scheme other than `postgres`, `postgresql` or `sqlite`.
    #[error(
        "unsupported database URL scheme `{0}`: use postgres://, postgresql:// or sqlite://PATH"
    )]
    UnsupportedScheme(String),
    /// `sqlite:` without a path.
    #[error("a sqlite URL needs a file path: sqlite://PATH or sqlite:PATH")]
    MissingPath,
    /// `sqlite::memory:`: every pooled connection would see its own empty database.
    #[error(
        "in-memory SQLite is not supported: each pooled connection would open its own empty database; use a file"
    )]
    InMemory,
}

impl Target {
    /// Picks the backend from the URL scheme.
    ///
    /// `sqlite://PATH` and `sqlite:PATH` name a file (`sqlite:///abs/path` is
    /// absolute, `sqlite://rel/path` relative to the working directory). A
    /// query string (such as sqlx's `?mode=rwc`) is ignored: the file is
    /// always created when missing.
    pub(crate) fn parse(url: &str, connect_timeout: Duration) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once(':').ok_or(UrlError::NoScheme)?;
        if scheme.is_empty() {
            return Err(UrlError::NoScheme);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => {
                Ok(Self::Postgres(with_connect_timeout(url, connect_timeout)))
            }
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split_once('?').map_or(path, |(path, _query)| path);
                if path.is_empty() {
                    return Err(UrlError::MissingPath);
                }
                if path == ":memory:" || path.starts_with("file::memory:") {
                    return Err(UrlError::InMemory);
                }
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
            other => Err(UrlError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// The backend this target is served by.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Adds libpq's `connect_timeout` (whole seconds, at least 2 as libpq
/// enforces) unless the URL sets one, so that an unreachable server fails
/// within the configured time instead of the operating system's TCP timeout.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let seconds = timeout.as_secs().max(2) + u64::from(timeout.subsec_nanos() > 0);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// libpq's or SQLite's own reason.
    #[error("could not connect to {backend}: {source}")]
    Establish {
        /// The backend tried.
        backend: &'static str,
        /// The reason.
        #[source]
        source: ConnectionError,
    },
    /// The SQLite file's directory could not be created.
    #[error("could not create the directory of SQLite file {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The per-connection set-up statements failed.
    #[error("could not set up the connection: {0}")]
    Setup(#[source] diesel::result::Error),
    /// The health check failed.
    #[error("connection check failed: {0}")]
    Check(#[source] diesel::result::Error),
}

/// A pooled connection, with a mark set when a unit of work failed on it.
///
/// PostgreSQL connections whose server went away are not reported broken by
/// diesel (`is_broken` only looks at the transaction state). Pinging on every
/// check-out would cost a round trip per request; instead, a connection that
/// served a failed unit of work is pinged when it returns to the pool and
/// dropped if the ping fails, so the pool heals itself after an outage.
pub(crate) struct PooledConn {
    /// The connection.
    pub(crate) conn: AnyConnection,
    /// Whether the last unit of work on it failed.
    pub(crate) suspect: bool,
}

/// Opens connections to one [`Target`].
#[derive(Debug)]
pub(crate) struct Manager {
    target: Target,
}

impl Manager {
    /// A manager for `target`.
    pub(crate) fn new(target: Target) -> Self {
        Self { target }
    }
}

impl ManageConnection for Manager {
    type Connection = PooledConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<PooledConn, ConnectError> {
        let conn = match &self.target {
            Target::Postgres(url) => PgConnection::establish(url)
                .map(AnyConnection::Postgres)
                .map_err(|source| ConnectError::Establish {
                    backend: "PostgreSQL",
                    source,
                })?,
            Target::Sqlite(path) => AnyConnection::Sqlite(open_sqlite(path)?),
        };
        Ok(PooledConn {
            conn,
            suspect: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), ConnectError> {
        conn.conn.ping().map_err(ConnectError::Check)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        if std::thread::panicking() || conn.conn.is_broken() {
            return true;
        }
        if std::mem::take(&mut conn.suspect) {
            return conn.conn.ping().is_err();
        }
        false
    }
}

/// Opens (creating if needed) a SQLite file, and its directory.
fn open_sqlite(path: &Path) -> Result<SqliteConnection, ConnectError> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ConnectError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    let establish = |url: &str| {
        SqliteConnection::establish(url).map_err(|source| ConnectError::Establish {
            backend: "SQLite",
            source,
        })
    };
    match path.to_str() {
        Some(url) => establish(url),
        None => Err(ConnectError::Establish {
            backend: "SQLite",
            source: ConnectionError::InvalidConnectionUrl(format!(
                "SQLite path {} is not valid UTF-8",
                path.display()
            )),
        }),
    }
}

/// Statements run on every new SQLite connection. `busy_timeout` comes first
/// so that switching to WAL waits for other connections instead of failing.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; \
     PRAGMA journal_mode = WAL; \
     PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = NORMAL;";

/// Sets WAL, the busy timeout, foreign keys and `synchronous = NORMAL` on
/// every SQLite connection the pool opens; PostgreSQL connections pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlitePragmas;

impl CustomizeConnection<PooledConn, ConnectError> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut PooledConn) -> Result<(), ConnectError> {
        set_up(&mut conn.conn)
    }
}

/// Per-connection set-up (see [`SqlitePragmas`]).
pub(crate) fn set_up(conn: &mut AnyConnection) -> Result<(), ConnectError> {
    match conn {
        AnyConnection::Sqlite(conn) => conn
            .batch_execute(SQLITE_PRAGMAS)
            .map_err(ConnectError::Setup),
        AnyConnection::Postgres(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: Duration = Duration::from_secs(5);

    #[test]
    fn postgres_schemes_keep_the_url_and_get_a_connect_timeout() {
        assert_eq!(
            Target::parse("postgres://u@h:5432/db", FIVE),
            Ok(Target::Postgres(
                "postgres://u@h:5432/db?connect_timeout=5".into()
            ))
        );
        assert_eq!(
            Target::parse("postgresql://h/db?sslmode=disable", FIVE),
            Ok(Target::Postgres(
                "postgresql://h/db?sslmode=disable&connect_timeout=5".into()
            ))
        );
        assert_eq!(
            Target::parse("postgres://h/db?connect_timeout=9", FIVE),
            Ok(Target::Postgres("postgres://h/db?connect_timeout=9".into()))
        );
        assert_eq!(
            Target::parse("postgres://h/db", Duration::from_millis(2500)),
            Ok(Target::Postgres("postgres://h/db?connect_timeout=3".into()))
        );
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            Target::parse("sqlite:///var/lib/p.db", FIVE),
            Ok(Target::Sqlite("/var/lib/p.db".into()))
        );
        assert_eq!(
            Target::parse("sqlite://data/p.db", FIVE),
            Ok(Target::Sqlite("data/p.db".into()))
        );
        assert_eq!(
            Target::parse("sqlite:p.db?mode=rwc", FIVE),
            Ok(Target::Sqlite("p.db".into()))
        );
        assert_eq!(
            Target::parse("sqlite::memory:", FIVE),
            Err(UrlError::InMemory)
        );
        assert_eq!(Target::parse("sqlite://", FIVE), Err(UrlError::MissingPath));
    }

    #[test]
    fn other_schemes_are_refused_by_name() {
        assert_eq!(
            Target::parse("mysql://h/db", FIVE),
            Err(UrlError::UnsupportedScheme("mysql".into()))
        );
        assert_eq!(
            Target::parse("/var/lib/p.db", FIVE),
            Err(UrlError::NoScheme)
        );
        assert!(
            UrlError::UnsupportedScheme("mysql".into())
                .to_string()
                .contains("`mysql`")
        );
    }
}
