//! Test databases for this crate's tests and other crates' (feature
//! `test-support`): a fresh, migrated database per test, on either backend.
//!
//! PostgreSQL databases are cloned from a migrated template
//! (`CREATE DATABASE t_<ulid> TEMPLATE portcullis_tmpl_<hash>`, tens of
//! milliseconds) and dropped `WITH (FORCE)` when the [`TestDatabase`] drops.
//! The template is named after a hash of the migration files, so a changed
//! migration gets a new template, and it is created under a PostgreSQL
//! advisory lock, so that test processes starting together (cargo nextest
//! runs each test in its own process) build it once.
//!
//! Everything here panics on failure: it is test scaffolding.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::MigrationHarness;
use tempfile::TempDir;
use ulid::Ulid;

use crate::{Backend, DieselStore, StoreConfig, migrate};

/// The environment variable naming the PostgreSQL server for tests.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";

/// Advisory lock key serializing template creation across test processes.
const TEMPLATE_LOCK: i64 = 0x706f_7274_746d_706c; // "porttmpl"

/// A fresh, migrated database that is dropped (PostgreSQL) or deleted
/// (SQLite) when this value drops. Drop stores using it first.
#[derive(Debug)]
pub struct TestDatabase {
    /// The database's URL, for [`StoreConfig::url`].
    pub url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Postgres { server: String, name: String },
    Sqlite { _dir: TempDir },
}

impl TestDatabase {
    /// A fresh PostgreSQL database cloned from the migrated template, on the
    /// server named by `DATABASE_URL` (e.g.
    /// `postgres://postgres@127.0.0.1:5432/postgres`; the user must be able
    /// to create databases).
    ///
    /// # Panics
    /// When `DATABASE_URL` is unset or the server refuses.
    #[must_use]
    pub fn postgres() -> Self {
        let server = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "TestDatabase::postgres needs {DATABASE_URL_VAR}, the URL of a PostgreSQL server \
                 whose user may create databases, e.g. postgres://postgres@127.0.0.1:5432/postgres"
            )
        });
        let template = template(&server);
        let name = format!("t_{}", Ulid::generate().to_string().to_ascii_lowercase());
        let mut admin = connect_pg(&server);
        execute(
            &mut admin,
            &format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""),
        );
        Self {
            url: with_database(&server, &name),
            kind: Kind::Postgres { server, name },
        }
    }

    /// A fresh, migrated SQLite file in a temporary directory that lives as
    /// long as this value.
    ///
    /// # Panics
    /// When the file cannot be created or migrated.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temporary directory: {err}"));
        let path: PathBuf = dir.path().join("portcullis.db");
        let path_text = path
            .to_str()
            .unwrap_or_else(|| panic!("temporary path {} is not UTF-8", path.display()));
        let mut conn = SqliteConnection::establish(path_text)
            .unwrap_or_else(|err| panic!("cannot open {path_text}: {err}"));
        conn.run_pending_migrations(migrate::SQLITE)
            .unwrap_or_else(|err| panic!("cannot migrate {path_text}: {err}"));
        Self {
            url: format!("sqlite://{path_text}"),
            kind: Kind::Sqlite { _dir: dir },
        }
    }

    /// The backend of this database.
    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.kind {
            Kind::Postgres { .. } => Backend::Postgres,
            Kind::Sqlite { .. } => Backend::Sqlite,
        }
    }

    /// A store on this database (4 connections, 5-second timeout).
    ///
    /// # Panics
    /// When the store cannot connect.
    #[must_use]
    pub fn store(&self) -> DieselStore {
        let config = StoreConfig {
            url: self.url.clone(),
            pool_size: 4,
            connect_timeout: Duration::from_secs(5),
            checkout_timeout: Duration::from_secs(5),
            circuit_open: Duration::from_secs(1),
        };
        DieselStore::connect(&config)
            .unwrap_or_else(|err| panic!("cannot connect to {}: {err:?}", self.url))
    }
}

impl TestDatabase {
    /// The `event_type` of every audit event about resources of JSON:API
    /// type `resource_type`, in order of occurrence, read with raw SQL (for
    /// other crates' tests, which do not see diesel).
    ///
    /// # Panics
    /// When the database cannot be read.
    #[must_use]
    pub fn event_types(&self, resource_type: &str) -> Vec<String> {
        // Resource types are identifiers: quoting is enough.
        assert!(
            resource_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "resource type {resource_type:?}"
        );
        self.texts(&format!(
            "SELECT event_type AS value FROM events WHERE resource_type = '{resource_type}' ORDER BY id"
        ))
    }

    /// The column `value` of every row `sql` returns, which must be text
    /// (`SELECT x AS value ...`), read with raw SQL.
    ///
    /// # Panics
    /// When the database cannot be read.
    #[must_use]
    pub fn texts(&self, sql: &str) -> Vec<String> {
        let rows: Vec<TextRow> = match &self.kind {
            Kind::Postgres { .. } => diesel::sql_query(sql).load(&mut connect_pg(&self.url)),
            Kind::Sqlite { .. } => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut conn = SqliteConnection::establish(path)
                    .unwrap_or_else(|err| panic!("cannot open {path}: {err}"));
                diesel::sql_query(sql).load(&mut conn)
            }
        }
        .unwrap_or_else(|err| panic!("cannot run {sql}: {err}"));
        rows.into_iter().map(|row| row.value).collect()
    }

    /// The `data` (JSON text) of every audit event about resources of
    /// JSON:API type `resource_type`, in order of occurrence, read with raw
    /// SQL: lets other crates' tests check that no secret reached an event.
    ///
    /// # Panics
    /// When the database cannot be read.
    #[must_use]
    pub fn event_data(&self, resource_type: &str) -> Vec<String> {
        assert!(
            resource_type
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "resource type {resource_type:?}"
        );
        self.texts(&format!(
            "SELECT data AS value FROM events WHERE resource_type = '{resource_type}' ORDER BY id"
        ))
    }

    /// PostgreSQL only: simulates an outage of this database (new connections
    /// refused, open ones ended) or its end (connections allowed again).
    ///
    /// # Panics
    /// On SQLite, or when the server refuses the change.
    pub fn set_reachable(&self, reachable: bool) {
        let Kind::Postgres { server, name } = &self.kind else {
            panic!("set_reachable needs a PostgreSQL test database");
        };
        let mut admin = connect_pg(server);
        execute(
            &mut admin,
            &format!("ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {reachable}"),
        );
        if !reachable {
            execute(
                &mut admin,
                &format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                ),
            );
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { server, name } = &self.kind
            && let Ok(mut admin) = PgConnection::establish(server)
        {
            // Best effort: a database left behind only costs disk space.
            let dropped =
                diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin);
            if let Err(err) = dropped {
                tracing::warn!(database = %name, error = %err, "cannot drop test database");
            }
        }
    }
}

/// The name of the migrated template on `server`, created on first use.
fn template(server: &str) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let name = format!("portcullis_tmpl_{}", env!("PORTCULLIS_MIGRATIONS_HASH"));
            let mut admin = connect_pg(server);
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(TEMPLATE_LOCK)
                .execute(&mut admin)
                .unwrap_or_else(|err| panic!("cannot take the template lock: {err}"));
            if !database_exists(&mut admin, &name) {
                // Built under another name and renamed when complete, so that a
                // process dying half-way never leaves a half-migrated template.
                let building = format!("{name}_build");
                execute(
                    &mut admin,
                    &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
                );
                execute(&mut admin, &format!("CREATE DATABASE \"{building}\""));
                {
                    let mut conn = connect_pg(&with_database(server, &building));
                    conn.run_pending_migrations(migrate::POSTGRES)
                        .unwrap_or_else(|err| panic!("cannot migrate the template: {err}"));
                }
                execute(
                    &mut admin,
                    &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
                );
            }
            diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(TEMPLATE_LOCK)
                .execute(&mut admin)
                .unwrap_or_else(|err| panic!("cannot release the template lock: {err}"));
            name
        })
        .clone()
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    found: bool,
}

fn database_exists(admin: &mut PgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
        .bind::<Text, _>(name)
        .get_result::<Exists>(admin)
        .unwrap_or_else(|err| panic!("cannot look up database {name}: {err}"))
        .found
}

fn connect_pg(url: &str) -> PgConnection {
    PgConnection::establish(url).unwrap_or_else(|err| panic!("cannot connect to {url}: {err}"))
}

fn execute(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|err| panic!("`{sql}` failed: {err}"));
}

/// `url` with its database (path) replaced by `database`; the query stays.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base
        .get(authority_start..)
        .and_then(|rest| rest.find('/'))
        .map_or(base.len(), |at| authority_start + at);
    let mut out = format!("{}/{database}", base.get(..path_start).unwrap_or(base));
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "t_1"),
            "postgres://u:p@h/t_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "t_1"),
            "postgres://h:5432/t_1"
        );
    }
}
