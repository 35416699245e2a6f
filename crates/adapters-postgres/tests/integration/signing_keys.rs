//! Signing keys: round trips, listings, locking, rotation under concurrency.

use std::time::Duration;

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::SigningKeyId;
use portcullis_domain::environment::Environment;
use portcullis_domain::signing_key::{KeyRing, KeyStatus, SigningKey};
use portcullis_ports::store::{Keyset, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, signing_key, ulid};

async fn insert_keys(store: &DieselStore, keys: Vec<SigningKey>) {
    store
        .transaction(move |tx| keys.iter().try_for_each(|key| tx.insert_signing_key(key)))
        .await
        .unwrap();
}

on_both_backends! {
    /// Keys round-trip (ciphertext bytes, status, deactivation time), are
    /// updated and deleted in their environment only, and `kid`s are unique.
    async fn signing_keys_round_trip_update_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let mut primary = signing_key(&env, 1, 10);
        primary.primary = true;
        insert_keys(&store, vec![primary.clone(), signing_key(&other, 2, 20)]).await;
        let (env_id, id) = (env.id, primary.id);
        let found = store.read(move |tx| tx.find_signing_key(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&primary));
        assert_eq!(found.unwrap().private_key.as_bytes(), [0, 1, 2, 255, 1]);

        let mut retired = primary.clone();
        retired.status = KeyStatus::Inactive;
        retired.primary = false;
        retired.deactivated_at = Some(at(999_999));
        let row = retired.clone();
        store.transaction(move |tx| tx.update_signing_key(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_signing_key(env_id, id)).await.unwrap();
        assert_eq!(found, Some(retired.clone()));

        let ghost = signing_key(&env, 3, 30);
        let err = store.transaction(move |tx| tx.update_signing_key(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let clash = SigningKey { id: SigningKeyId::from_ulid(ulid(4)), ..signing_key(&env, 1, 40) };
        let err = store.transaction(move |tx| tx.insert_signing_key(&clash)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::SigningKeyKid)), "{err:?}");
        // The same kid in another environment is fine.
        insert_keys(&store, vec![SigningKey { id: SigningKeyId::from_ulid(ulid(5)), ..signing_key(&other, 1, 50) }]).await;

        let other_id = other.id;
        let wrong_env = store.transaction(move |tx| tx.delete_signing_key(other_id, id)).await.unwrap();
        assert!(!wrong_env);
        let deleted = store.transaction(move |tx| tx.delete_signing_key(env_id, id)).await.unwrap();
        assert!(deleted);
        assert_eq!(store.read(move |tx| tx.find_signing_key(env_id, id)).await.unwrap(), None);
        assert_eq!(count(db, "signing_keys"), 2);
    }
}

on_both_backends! {
    /// Listings: all keys by creation for locking, active ones newest first,
    /// and keyset pages by id in both directions.
    async fn signing_keys_list_lock_and_page(_db, store) {
        let env = insert_environment(&store, "default").await;
        // Ids ascend with n; creation times do not follow id order.
        let mut keys = vec![
            signing_key(&env, 1, 500),
            signing_key(&env, 2, 100),
            signing_key(&env, 3, 300),
            signing_key(&env, 4, 200),
        ];
        keys[2].status = KeyStatus::Inactive;
        keys[2].deactivated_at = Some(at(400));
        insert_keys(&store, keys).await;
        let env_id = env.id;
        let kids = |keys: &[SigningKey]| keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>();

        let locked = store.transaction(move |tx| tx.lock_signing_keys(env_id)).await.unwrap();
        assert_eq!(kids(&locked), ["kid-2", "kid-4", "kid-3", "kid-1"]);
        let active = store.read(move |tx| tx.list_active_signing_keys(env_id)).await.unwrap();
        assert_eq!(kids(&active), ["kid-1", "kid-4", "kid-2"]);

        let page = |after: Option<String>, descending: bool| {
            let store = store.clone();
            async move {
                let page = Keyset { limit: 3, descending, after };
                store.read(move |tx| tx.list_signing_keys(env_id, &page)).await.unwrap()
            }
        };
        let first = page(None, false).await;
        assert_eq!(kids(&first), ["kid-1", "kid-2", "kid-3"]);
        let second = page(Some(first[2].id.to_string()), false).await;
        assert_eq!(kids(&second), ["kid-4"]);
        assert!(page(Some(second[0].id.to_string()), false).await.is_empty());
        let back = page(None, true).await;
        assert_eq!(kids(&back), ["kid-4", "kid-3", "kid-2"]);
        assert_eq!(kids(&page(Some(back[2].id.to_string()), true).await), ["kid-1"]);
    }
}

/// One rotation as the application runs it: lock the ring, add a primary
/// key named after the ring's size, persist what changed.
async fn rotate(store: DieselStore, env: Environment, n: u64) -> Result<(), StoreError> {
    store
        .transaction(move |tx| {
            let mut ring = KeyRing::new(tx.lock_signing_keys(env.id)?);
            // Hold the lock a while so that the rotations overlap.
            std::thread::sleep(Duration::from_millis(150));
            let mut key = signing_key(&env, n, 1_000 + i64::try_from(n).unwrap());
            key.kid = format!("generation-{}", ring.keys().len());
            for changed in ring.add_primary(key) {
                tx.update_signing_key(&changed)?;
            }
            // `add_primary` made the new key primary in the ring.
            let added = ring.keys().last().unwrap().clone();
            tx.insert_signing_key(&added)
        })
        .await
}

on_both_backends! {
    /// Two rotations at once serialize on `lock_signing_keys`: the second
    /// sees the first's new key, so kids stay distinct and one key is primary.
    async fn concurrent_rotations_serialize_on_the_key_lock(_db, store) {
        let env = insert_environment(&store, "default").await;
        let mut first = signing_key(&env, 1, 0);
        first.primary = true;
        insert_keys(&store, vec![first]).await;

        let (a, b) = tokio::join!(
            rotate(store.clone(), env.clone(), 2),
            rotate(store.clone(), env.clone(), 3),
        );
        a.unwrap();
        b.unwrap();
        let env_id = env.id;
        let keys = store.read(move |tx| tx.lock_signing_keys(env_id)).await.unwrap();
        let mut kids: Vec<_> = keys.iter().map(|k| k.kid.clone()).collect();
        kids.sort();
        assert_eq!(kids, ["generation-1", "generation-2", "kid-1"]);
        assert_eq!(keys.iter().filter(|k| k.primary).count(), 1, "{keys:?}");
    }
}
