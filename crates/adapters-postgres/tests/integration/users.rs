//! Users: round trips, tenant scoping, e-mail uniqueness, corrupt rows.

use portcullis_domain::UserId;
use portcullis_domain::user::{Email, Metadata, PersonName, User, UserChanges};
use portcullis_ports::store::{StoreError, Unique, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, ulid, user};

on_both_backends! {
    /// Every field survives insert, update (including clearing) and delete.
    async fn users_round_trip_through_insert_update_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let original = user(&env, 1, "Jane.Doe@Example.com");
        assert_eq!(original.email().as_str(), "jane.doe@example.com");
        assert_eq!(original.created_at().unix_micros() % 1_000_000, 124_456);

        let row = original.clone();
        store.transaction(move |tx| tx.insert_user(&row)).await.unwrap();
        let (env_id, id) = (env.id, original.id());
        let found = store.read(move |tx| tx.find_user(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&original), "microseconds, names, metadata and hash survive");

        let mut changed = original.clone();
        changed.apply(
            UserChanges {
                email: Some(Email::parse("jane@example.org").unwrap()),
                first_name: Some(None),
                last_name: Some(PersonName::parse("Smith").unwrap()),
                blocked: Some(true),
                metadata: Some(Metadata::from_json_text(r#"{"plan":"pro"}"#.into()).unwrap()),
                ..UserChanges::default()
            },
            at(9_000_001),
        );
        let row = changed.clone();
        store.transaction(move |tx| tx.update_user(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_user(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&changed));
        assert!(found.unwrap().first_name().is_none(), "cleared name is stored as NULL");
        assert_eq!(
            crate::support::texts(db, "SELECT email AS v FROM users"),
            ["jane@example.org"]
        );

        let deleted = store.transaction(move |tx| tx.delete_user(env_id, id)).await.unwrap();
        assert!(deleted);
        assert_eq!(store.read(move |tx| tx.find_user(env_id, id)).await.unwrap(), None);
        let again = store.transaction(move |tx| tx.delete_user(env_id, id)).await.unwrap();
        assert!(!again, "deleting a missing user reports false");
        assert_eq!(count(db, "users"), 0);
    }
}

on_both_backends! {
    /// Updating a user that does not exist is `NotFound`, not a silent no-op.
    async fn updating_a_missing_user_is_not_found(_db, store) {
        let env = insert_environment(&store, "default").await;
        let ghost = user(&env, 1, "ghost@example.com");
        let err = store.transaction(move |tx| tx.update_user(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
}

on_both_backends! {
    /// Users are found, updated and deleted only through their own environment,
    /// and the same address may exist once per environment.
    async fn users_are_scoped_to_their_environment(_db, store) {
        let a = insert_environment(&store, "a").await;
        let b = insert_environment(&store, "b").await;
        let in_a = user(&a, 1, "same@example.com");
        let in_b = user(&b, 2, "same@example.com");
        let rows = (in_a.clone(), in_b.clone());
        store
            .transaction(move |tx| {
                tx.insert_user(&rows.0)?;
                tx.insert_user(&rows.1)
            })
            .await
            .unwrap();

        let (a_id, b_id, user_a) = (a.id, b.id, in_a.id());
        let cross = store.read(move |tx| tx.find_user(b_id, user_a)).await.unwrap();
        assert_eq!(cross, None);
        let deleted = store.transaction(move |tx| tx.delete_user(b_id, user_a)).await.unwrap();
        assert!(!deleted);
        // An update naming the wrong environment touches nothing.
        let mut moved = in_a.clone();
        moved.apply(UserChanges { blocked: Some(true), ..UserChanges::default() }, at(5_000_000));
        let moved = User::from_parts(portcullis_domain::user::UserParts {
            id: moved.id(),
            environment_id: b_id,
            email: moved.email().clone(),
            first_name: None,
            last_name: None,
            password_hash: None,
            email_verified: false,
            blocked: true,
            metadata: Metadata::empty(),
            created_at: moved.created_at(),
            updated_at: moved.updated_at(),
        })
        .unwrap();
        let err = store.transaction(move |tx| tx.update_user(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let still = store.read(move |tx| tx.find_user(a_id, user_a)).await.unwrap();
        assert_eq!(still, Some(in_a));
    }
}

on_both_backends! {
    /// A second user with the same address in any case is a `UserEmail`
    /// conflict, on insert and on update.
    async fn email_uniqueness_ignores_case_on_insert_and_update(db, store) {
        let env = insert_environment(&store, "default").await;
        let first = user(&env, 1, "taken@example.com");
        let row = first.clone();
        store.transaction(move |tx| tx.insert_user(&row)).await.unwrap();

        let clash = user(&env, 2, "TAKEN@Example.COM");
        let err = store.transaction(move |tx| tx.insert_user(&clash)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::UserEmail)), "{err:?}");

        let mut other = user(&env, 3, "other@example.com");
        let row = other.clone();
        store.transaction(move |tx| tx.insert_user(&row)).await.unwrap();
        other.apply(
            UserChanges { email: Some(Email::parse("Taken@example.com").unwrap()), ..UserChanges::default() },
            at(8_000_000),
        );
        let err = store.transaction(move |tx| tx.update_user(&other)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::UserEmail)), "{err:?}");
        assert_eq!(count(db, "users"), 2);
    }
}

on_both_backends! {
    /// After a conflict inside a transaction the transaction goes on: on
    /// PostgreSQL this needs the savepoint around the failing insert.
    async fn a_transaction_continues_and_commits_after_a_conflict(db, store) {
        let env = insert_environment(&store, "default").await;
        let (a, dup, c) = (
            user(&env, 1, "a@example.com"),
            user(&env, 2, "A@example.com"),
            user(&env, 3, "c@example.com"),
        );
        let rows = (a.clone(), dup, c.clone());
        let conflict = store
            .transaction(move |tx| {
                tx.insert_user(&rows.0)?;
                let conflict = tx.insert_user(&rows.1).unwrap_err();
                // The caller maps the conflict and carries on.
                tx.insert_user(&rows.2)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::UserEmail)), "{conflict:?}");
        let (env_id, a_id, c_id) = (env.id, a.id(), c.id());
        let found = store
            .read(move |tx| Ok::<_, StoreError>((tx.find_user(env_id, a_id)?, tx.find_user(env_id, c_id)?)))
            .await
            .unwrap();
        assert_eq!(found, (Some(a), Some(c)));
        assert_eq!(count(db, "users"), 2);
    }
}

on_both_backends! {
    /// Stored values that break the domain's rules surface as `Corrupt`.
    async fn rows_breaking_invariants_are_corrupt(db, store) {
        let env = insert_environment(&store, "default").await;
        let id = UserId::from_ulid(ulid(1));
        execute(
            db,
            &format!(
                "INSERT INTO users (id, environment_id, email, email_verified, blocked, metadata, created_at, updated_at) \
                 VALUES ('{id}', '{}', 'not-an-address', FALSE, FALSE, '{{}}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                env.id
            ),
        );
        let env_id = env.id;
        let err = store.read(move |tx| tx.find_user(env_id, id)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    }
}

on_both_backends! {
    /// Foreign keys hold on both backends (SQLite needs the pragma on every
    /// connection): a user of an unknown environment is refused, and not as
    /// a conflict.
    async fn foreign_keys_are_enforced(db, store) {
        let env = crate::support::environment("never-inserted");
        let orphan = user(&env, 1, "orphan@example.com");
        let err = store.transaction(move |tx| tx.insert_user(&orphan)).await.unwrap_err();
        assert!(matches!(err, StoreError::MissingReference), "{err:?}");
        assert_eq!(count(db, "users"), 0);
    }
}

on_both_backends! {
    /// A locked read of a user while another transaction is blocking it
    /// waits for that transaction and sees the user blocked: a session can
    /// never be created for a user whose block is being committed.
    async fn a_locked_user_read_waits_for_an_open_block(_db, store) {
        let env = insert_environment(&store, "default").await;
        let ada = user(&env, 1, "ada@example.com");
        let stored = ada.clone();
        store.transaction(move |tx| tx.insert_user(&stored)).await.unwrap();
        let (blocked_tx, blocked_rx) = std::sync::mpsc::channel();
        let blocker = store.clone();
        let mut changed = ada.clone();
        changed.apply(UserChanges { blocked: Some(true), ..UserChanges::default() }, at(9_000));
        let block = tokio::spawn(async move {
            blocker
                .transaction(move |tx| {
                    tx.update_user(&changed)?;
                    blocked_tx.send(()).unwrap();
                    // Hold the row lock a while before committing.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, StoreError>(())
                })
                .await
        });
        tokio::task::spawn_blocking(move || blocked_rx.recv().unwrap()).await.unwrap();
        let (env_id, id) = (env.id, ada.id());
        let seen = store.transaction(move |tx| tx.lock_user(env_id, id)).await.unwrap().unwrap();
        block.await.unwrap().unwrap();
        assert!(seen.blocked(), "the locked read saw the committed block");
    }
}
