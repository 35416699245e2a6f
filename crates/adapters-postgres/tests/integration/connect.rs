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

#[test]
fn sqlite_files_and_their_directories_are_created_and_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/portcullis.db");
    let store =
        DieselStore::connect(&StoreConfig::new(format!("sqlite://{}", path.display()))).unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert_eq!(store.backend().as_str(), "sqlite");
    assert!(path.exists());
    assert_eq!(store.run_migrations().unwrap(), 4);
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
    assert_eq!(store.run_migrations().unwrap(), 4);
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
