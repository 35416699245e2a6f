//! Connecting, migrating, pinging, and recovering from lost connections.

use std::error::Error as _;
use std::time::Duration;

use portcullis_adapters_postgres::testing::TestDatabase;
use portcullis_adapters_postgres::{Backend, DieselStore, StoreConfig};
use portcullis_ports::store::{StoreError, UnitOfWork};

use crate::support::{count, on_both_backends};

/// The error and its sources, joined.
fn chain(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[test]
fn connect_refuses_an_unknown_scheme_and_names_it() {
    let err =
        DieselStore::connect(&StoreConfig::new("mysql://root@127.0.0.1/portcullis")).unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(chain(&err).contains("`mysql`"), "{}", chain(&err));
}

#[test]
fn connect_refuses_in_memory_sqlite() {
    let err = DieselStore::connect(&StoreConfig::new("sqlite::memory:")).unwrap_err();
    assert!(chain(&err).contains("in-memory"), "{}", chain(&err));
}

#[test]
fn connect_to_an_unreachable_postgres_reports_libpq_reason_and_creates_no_file() {
    let before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let config = StoreConfig {
        url: "postgres://postgres@127.0.0.1:1/x".into(),
        pool_size: 2,
        connect_timeout: Duration::from_secs(2),
        checkout_timeout: Duration::from_secs(2),
        circuit_open: Duration::from_secs(1),
    };
    let err = DieselStore::connect(&config).unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    let text = chain(&err);
    assert!(
        text.to_lowercase().contains("connection refused"),
        "libpq's reason is lost: {text}"
    );
    assert!(!text.contains("multiconnection"), "{text}");
    let after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "connecting to PostgreSQL created a file");
    assert!(!std::path::Path::new("postgres:").exists());
}

/// The migration folders of one backend, sorted.
fn migration_names(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn every_migration_has_its_twin_on_the_other_backend() {
    let postgres = migration_names("postgres");
    assert!(postgres.len() >= 4, "{postgres:?}");
    assert_eq!(postgres, migration_names("sqlite"));
}

#[test]
fn sqlite_files_and_their_directories_are_created_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/portcullis.db");
    let store =
        DieselStore::connect(&StoreConfig::new(format!("sqlite://{}", path.display()))).unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.backend().as_str(), "sqlite");
    assert!(path.exists());
    assert_eq!(
        store.run_migrations().unwrap(),
        migration_names("sqlite").len()
    );
    assert_eq!(store.run_migrations().unwrap(), 0);
    // `sqlite:PATH` names the same file.
    let again =
        DieselStore::connect(&StoreConfig::new(format!("sqlite:{}", path.display()))).unwrap();
    assert_eq!(again.run_migrations().unwrap(), 0);
}

#[test]
fn a_fresh_postgres_database_is_migrated_by_run_migrations() {
    let db = TestDatabase::postgres();
    let store = db.store();
    assert_eq!(store.backend(), Backend::Postgres);
    // The template is migrated already; drop the schema and migrate again.
    crate::support::execute(&db, "DROP SCHEMA public CASCADE");
    crate::support::execute(&db, "CREATE SCHEMA public");
    assert_eq!(
        store.run_migrations().unwrap(),
        migration_names("postgres").len()
    );
    assert_eq!(store.run_migrations().unwrap(), 0);
    assert_eq!(count(&db, "users"), 0);
}

on_both_backends! {
    /// `ping` answers and test databases come migrated.
    async fn ping_answers_on_a_migrated_database(_db, store) {
        store.ping().await.unwrap();
        assert_eq!(store.run_migrations().unwrap(), 0);
        assert!(format!("{store:?}").contains("DieselStore"));
    }
}

/// Every backend connection of the test database is killed; the store
/// reports `Unavailable` for the connections it lost and then heals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_after_postgres_drops_its_connections() {
    let db = TestDatabase::postgres();
    let store = db.store();
    // Warm up a few connections.
    let warm: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .read(|tx| {
                        std::thread::sleep(Duration::from_millis(50));
                        tx.list_environments()
                    })
                    .await
            })
        })
        .collect();
    for task in warm {
        task.await.unwrap().unwrap();
    }
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("DATABASE_URL").unwrap();
    {
        use diesel::prelude::*;
        let mut conn = diesel::PgConnection::establish(&admin).unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .execute(&mut conn)
        .unwrap();
    }
    let mut failures = 0;
    let mut healed = false;
    for _ in 0..10 {
        match store.read(|tx| tx.list_environments()).await {
            Ok(_) => {
                healed = true;
                break;
            }
            Err(err) => {
                assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
                failures += 1;
            }
        }
    }
    assert!(healed, "still failing after {failures} attempts");
    assert!(failures <= 4, "{failures} failures for a pool of 4");
    store.ping().await.unwrap();
}

/// Issue 14: while the database refuses connections, only the calls that
/// find out wait (at most the checkout timeout); the others, and those
/// queued behind them, are refused at once by the circuit breaker; a probe
/// after the open period finds the database back and calls go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_is_refused_at_once_and_recovered_from() {
    use std::time::Instant;

    let db = TestDatabase::postgres();
    let checkout = Duration::from_millis(400);
    let store = DieselStore::connect(&StoreConfig {
        url: db.url.clone(),
        pool_size: 2,
        connect_timeout: Duration::from_secs(5),
        checkout_timeout: checkout,
        circuit_open: Duration::from_millis(800),
    })
    .unwrap();
    store.ping().await.unwrap();
    db.set_reachable(false);

    // Ten calls at once on a pool of two: none waits much past the checkout timeout.
    let started = Instant::now();
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let start = Instant::now();
                let outcome = store.read(|tx| tx.list_environments()).await;
                (outcome.map(|_| ()), start.elapsed())
            })
        })
        .collect();
    for call in calls {
        let (outcome, took) = call.await.unwrap();
        let err = outcome.expect_err("the database is unreachable");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        assert!(
            took < checkout + Duration::from_millis(600),
            "a call took {took:?}"
        );
    }
    assert!(started.elapsed() < checkout + Duration::from_millis(800));

    // Open: refused at once, with a reason that says so.
    let start = Instant::now();
    let err = store.ping().await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    let reason = err.source().map(ToString::to_string).unwrap_or_default();
    assert!(reason.contains("refused for 800 ms"), "{reason}");

    db.set_reachable(true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the store did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    store.read(|tx| tx.list_environments()).await.unwrap();
}
