//! Units of work: commit, rollback, concurrent writers, the audit trail.

use std::fmt;

use portcullis_domain::EventId;
use portcullis_domain::event::{AuditEvent, SYSTEM_ACTOR};
use portcullis_ports::store::{StoreError, UnitOfWork};

use crate::support::{
    at, count, environment, insert_environment, on_both_backends, texts, ulid, user,
};

/// A use-case error carrying store errors, as services define them.
#[derive(Debug)]
enum WorkError {
    Refused,
    Store(StoreError),
}

impl From<StoreError> for WorkError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused => f.write_str("refused"),
            Self::Store(err) => write!(f, "store: {err}"),
        }
    }
}

on_both_backends! {
    /// A closure returning `Err` rolls back everything it wrote, and its own
    /// error comes out unchanged.
    async fn a_failed_unit_of_work_leaves_nothing_behind(db, store) {
        let env = environment("default");
        let member = user(&env, 1, "a@example.com");
        let err = store
            .transaction(move |tx| {
                tx.insert_environment(&env)?;
                tx.insert_user(&member)?;
                Err::<(), _>(WorkError::Refused)
            })
            .await
            .unwrap_err();
        assert!(matches!(err, WorkError::Refused), "{err}");
        assert_eq!(count(db, "environments"), 0);
        assert_eq!(count(db, "users"), 0);
        let listed = store.read(|tx| tx.list_environments()).await.unwrap();
        assert!(listed.is_empty());
    }
}

on_both_backends! {
    /// A change and its audit event commit together; the event's columns are
    /// stored as given.
    async fn events_are_appended_with_their_change(db, store) {
        let env = insert_environment(&store, "default").await;
        let member = user(&env, 1, "a@example.com");
        let event = AuditEvent {
            id: EventId::from_ulid(ulid(50)),
            environment_id: env.id,
            event_type: "user.created".into(),
            actor: SYSTEM_ACTOR.into(),
            resource_type: "user".into(),
            resource_id: member.id().to_string(),
            data: r#"{"email":"a@example.com"}"#.into(),
            occurred_at: at(77),
        };
        let (row, change) = (event.clone(), member.clone());
        store
            .transaction(move |tx| {
                tx.insert_user(&change)?;
                tx.append_event(&row)
            })
            .await
            .unwrap();
        let stored = texts(
            db,
            "SELECT id || '|' || environment_id || '|' || event_type || '|' || actor || '|' \
             || resource_type || '|' || resource_id || '|' || data AS v FROM events",
        );
        assert_eq!(
            stored,
            [format!(
                "{}|{}|user.created|system|user|{}|{{\"email\":\"a@example.com\"}}",
                event.id,
                env.id,
                member.id()
            )]
        );

        // Rolled back with its change.
        let lost = AuditEvent { id: EventId::from_ulid(ulid(51)), ..event };
        let member2 = user(&env, 2, "b@example.com");
        store
            .transaction(move |tx| {
                tx.insert_user(&member2)?;
                tx.append_event(&lost)?;
                Err::<(), _>(WorkError::Refused)
            })
            .await
            .unwrap_err();
        assert_eq!(count(db, "events"), 1);
        assert_eq!(count(db, "users"), 1);
    }
}

on_both_backends! {
    /// Concurrent write transactions all commit: on SQLite they queue on
    /// `BEGIN IMMEDIATE` and the busy timeout instead of failing with
    /// SQLITE_BUSY, even when each reads before it writes.
    async fn concurrent_writers_all_commit(db, store) {
        let env = insert_environment(&store, "default").await;
        let tasks: Vec<_> = (1..=8u64)
            .map(|n| {
                let store = store.clone();
                let member = user(&env, n, &format!("u{n}@example.com"));
                let env_id = env.id;
                tokio::spawn(async move {
                    store
                        .transaction(move |tx| {
                            // Read first, then write: the pattern that makes a
                            // deferred SQLite transaction fail on upgrade.
                            tx.find_user(env_id, member.id())?;
                            std::thread::sleep(std::time::Duration::from_millis(20));
                            tx.insert_user(&member)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(count(db, "users"), 8);
    }
}

on_both_backends! {
    /// `read` sees what committed transactions wrote.
    async fn reads_see_committed_writes(_db, store) {
        let env = insert_environment(&store, "default").await;
        let member = user(&env, 1, "a@example.com");
        let row = member.clone();
        store.transaction(move |tx| tx.insert_user(&row)).await.unwrap();
        let (env_id, id) = (env.id, member.id());
        let found = store.read(move |tx| tx.find_user(env_id, id)).await.unwrap();
        assert_eq!(found, Some(member));
    }
}
