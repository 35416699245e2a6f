//! Text holding NUL never fails a statement: PostgreSQL's `text` cannot
//! hold it and used to fail the whole statement (a `500` upstream). The
//! lookups and listings that take text from a request answer "none" for it,
//! on both backends alike, and the same calls without NUL still find rows.

use portcullis_ports::store::{EventQuery, Keyset, UnitOfWork, UserQuery, UserSort};

use crate::support::{insert_environment, on_both_backends, user};

fn keyset(after: Option<&str>) -> Keyset {
    Keyset {
        limit: 10,
        descending: false,
        after: after.map(str::to_owned),
    }
}

on_both_backends! {
    /// Lookups by a request's text, listings' filters and cursors.
    async fn text_holding_nul_matches_nothing_and_fails_nothing(_db, store) {
        let env = insert_environment(&store, "default").await;
        let ada = user(&env, 1, "ada@example.com");
        let row = ada.clone();
        store.transaction(move |tx| tx.insert_user(&row)).await.unwrap();
        let env_id = env.id;

        for text in ["\0", "default\0", "a\0b"] {
            let owned = text.to_owned();
            let (slug, client, resource) = store
                .read(move |tx| {
                    Ok::<_, portcullis_ports::store::StoreError>((
                        tx.find_environment_by_slug(&owned)?,
                        tx.find_client_by_client_id(env_id, &owned)?,
                        tx.find_resource_server_by_identifier(env_id, &owned)?,
                    ))
                })
                .await
                .unwrap();
            assert!(slug.is_none() && client.is_none() && resource.is_none(), "{text:?}");

            for (email, search, after, descending) in [
                (Some(text), None, None, false),
                (None, Some(text), None, false),
                (None, None, Some(text), false),
                (None, None, Some(text), true),
            ] {
                let query = UserQuery {
                    email: email.map(str::to_owned),
                    search: search.map(str::to_owned),
                    blocked: None,
                    sort: UserSort::Email,
                    page: Keyset { descending, ..keyset(after) },
                };
                let rows = store.read(move |tx| tx.list_users(env_id, &query)).await.unwrap();
                assert!(rows.is_empty(), "{text:?}");
            }
            for descending in [false, true] {
                let page = Keyset { descending, ..keyset(Some(text)) };
                let (roles, clients, webhooks) = store
                    .read(move |tx| {
                        Ok::<_, portcullis_ports::store::StoreError>((
                            tx.list_roles(env_id, &page)?,
                            tx.list_clients(env_id, &page)?,
                            tx.list_webhooks(env_id, &page)?,
                        ))
                    })
                    .await
                    .unwrap();
                assert!(roles.is_empty() && clients.is_empty() && webhooks.is_empty());
            }
            for (event_type, resource_id) in [(Some(text), None), (None, Some(text))] {
                let query = EventQuery {
                    event_type: event_type.map(str::to_owned),
                    resource_id: resource_id.map(str::to_owned),
                    since: None,
                    page: keyset(None),
                };
                let events = store.read(move |tx| tx.list_events(env_id, &query)).await.unwrap();
                assert!(events.is_empty());
            }
        }

        // Without NUL the same calls find what is there.
        let found = store.read(move |tx| tx.find_environment_by_slug("default")).await.unwrap();
        assert_eq!(found.map(|e| e.id), Some(env_id));
        let query = UserQuery {
            email: Some("ada@example.com".into()),
            search: Some("ada".into()),
            blocked: None,
            sort: UserSort::Email,
            page: keyset(Some("a")),
        };
        let rows = store.read(move |tx| tx.list_users(env_id, &query)).await.unwrap();
        assert_eq!(rows, [ada]);
    }
}
