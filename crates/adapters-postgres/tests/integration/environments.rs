//! Environments: insert, find, list, slug uniqueness.

use portcullis_ports::store::{StoreError, Unique, UnitOfWork};

use crate::support::{at, environment, on_both_backends};

on_both_backends! {
    /// Environments round-trip, list in creation order, and slugs are unique.
    async fn environments_round_trip_and_slugs_are_unique(_db, store) {
        let mut first = environment("default");
        first.created_at = at(10);
        let mut second = environment("staging");
        second.created_at = at(20);
        let rows = (first.clone(), second.clone());
        store
            .transaction(move |tx| {
                // Inserted newest first: the listing orders by creation.
                tx.insert_environment(&rows.1)?;
                tx.insert_environment(&rows.0)
            })
            .await
            .unwrap();

        let (found, missing, all) = store
            .read(|tx| {
                Ok::<_, StoreError>((
                    tx.find_environment_by_slug("staging")?,
                    tx.find_environment_by_slug("nope")?,
                    tx.list_environments()?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(found, Some(second.clone()));
        assert_eq!(missing, None);
        assert_eq!(all, vec![first, second]);

        let taken = environment("staging");
        let err = store
            .transaction(move |tx| tx.insert_environment(&taken))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::EnvironmentSlug)), "{err:?}");
    }
}
