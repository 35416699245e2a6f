//! Permissions: round trips, tenant scoping, name uniqueness, keyset pages.

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::PermissionId;
use portcullis_domain::access::{Description, Permission, PermissionChanges, PermissionName};
use portcullis_ports::store::{Keyset, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, permission, ulid};

async fn insert_permissions(store: &DieselStore, permissions: Vec<Permission>) {
    store
        .transaction(move |tx| permissions.iter().try_for_each(|p| tx.insert_permission(p)))
        .await
        .unwrap();
}

on_both_backends! {
    /// Every field survives insert, update and delete, in its environment only.
    async fn permissions_round_trip_through_insert_update_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let original = permission(&env, 1, "read:reports");
        insert_permissions(&store, vec![original.clone()]).await;
        let (env_id, other_id, id) = (env.id, other.id, original.id);
        let found = store.read(move |tx| tx.find_permission(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&original), "microseconds and newlines survive");
        let cross = store.read(move |tx| tx.find_permission(other_id, id)).await.unwrap();
        assert_eq!(cross, None);

        let mut changed = original.clone();
        changed.apply(
            PermissionChanges {
                name: Some(PermissionName::parse("Read:Reports").unwrap()),
                description: Some(Description::empty()),
            },
            at(9_000_001),
        );
        let row = changed.clone();
        store.transaction(move |tx| tx.update_permission(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_permission(env_id, id)).await.unwrap();
        assert_eq!(found, Some(changed.clone()));
        assert_eq!(
            crate::support::texts(db, "SELECT name AS v FROM permissions"),
            ["Read:Reports"]
        );

        // An update naming the wrong environment, or a missing permission, is NotFound.
        let moved = Permission { environment_id: other_id, ..changed.clone() };
        let err = store.transaction(move |tx| tx.update_permission(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let ghost = permission(&env, 2, "ghost");
        let err = store.transaction(move |tx| tx.update_permission(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let wrong_env = store.transaction(move |tx| tx.delete_permission(other_id, id)).await.unwrap();
        assert!(!wrong_env);
        let deleted = store.transaction(move |tx| tx.delete_permission(env_id, id)).await.unwrap();
        assert!(deleted);
        assert_eq!(store.read(move |tx| tx.find_permission(env_id, id)).await.unwrap(), None);
        let again = store.transaction(move |tx| tx.delete_permission(env_id, id)).await.unwrap();
        assert!(!again, "deleting a missing permission reports false");
        assert_eq!(count(db, "permissions"), 0);
    }
}

on_both_backends! {
    /// A name is unique per environment (case matters), on insert and on
    /// update, and the transaction goes on after the conflict.
    async fn permission_names_are_unique_per_environment(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert_permissions(
            &store,
            vec![
                permission(&env, 1, "read:reports"),
                // Another case is another name; another environment may reuse it.
                permission(&env, 2, "READ:reports"),
                permission(&other, 3, "read:reports"),
            ],
        )
        .await;

        let (clash, next) = (permission(&env, 4, "read:reports"), permission(&env, 5, "write:reports"));
        let conflict = store
            .transaction(move |tx| {
                let conflict = tx.insert_permission(&clash).unwrap_err();
                tx.insert_permission(&next)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::PermissionName)), "{conflict:?}");

        let mut renamed = permission(&env, 2, "READ:reports");
        renamed.apply(
            PermissionChanges { name: Some(PermissionName::parse("write:reports").unwrap()), ..PermissionChanges::default() },
            at(8_000_000),
        );
        let err = store.transaction(move |tx| tx.update_permission(&renamed)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::PermissionName)), "{err:?}");
        assert_eq!(count(db, "permissions"), 4);
    }
}

on_both_backends! {
    /// Keyset pages by id in both directions, scoped to the environment.
    async fn permissions_list_in_id_order_by_keyset(_db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert_permissions(
            &store,
            vec![
                permission(&env, 3, "c"),
                permission(&env, 1, "a"),
                permission(&other, 5, "elsewhere"),
                permission(&env, 4, "d"),
                permission(&env, 2, "b"),
            ],
        )
        .await;
        let env_id = env.id;
        let names = |ps: &[Permission]| ps.iter().map(|p| p.name.as_str().to_owned()).collect::<Vec<_>>();
        let page = |after: Option<String>, descending: bool| {
            let store = store.clone();
            async move {
                let page = Keyset { limit: 3, descending, after };
                store.read(move |tx| tx.list_permissions(env_id, &page)).await.unwrap()
            }
        };
        let first = page(None, false).await;
        assert_eq!(names(&first), ["a", "b", "c"]);
        let second = page(Some(first[2].id.to_string()), false).await;
        assert_eq!(names(&second), ["d"]);
        assert!(page(Some(second[0].id.to_string()), false).await.is_empty());
        let back = page(None, true).await;
        assert_eq!(names(&back), ["d", "c", "b"]);
        assert_eq!(names(&page(Some(back[2].id.to_string()), true).await), ["a"]);
    }
}

on_both_backends! {
    /// Stored names that break the domain's rules surface as `Corrupt`, and
    /// permissions go with their environment.
    async fn corrupt_rows_and_cascading_deletes(db, store) {
        let env = insert_environment(&store, "default").await;
        let id = PermissionId::from_ulid(ulid(1));
        execute(
            db,
            &format!(
                "INSERT INTO permissions (id, environment_id, name, description, created_at, updated_at) \
                 VALUES ('{id}', '{}', 'has space', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                env.id
            ),
        );
        let env_id = env.id;
        let err = store.read(move |tx| tx.find_permission(env_id, id)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "permissions"), 0);
    }
}
