//! Clients through the store: find by id, update (secret digest included),
//! delete with its grants, keyset pages; always within one environment.

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::environment::Environment;
use portcullis_domain::oauth::{
    Client, ClientGrant, ClientType, GrantType, ResourceServer, SecretDigest, TokenFormat,
    TokenLifetime,
};
use portcullis_domain::{ClientGrantId, ClientId, ResourceServerId};
use portcullis_ports::store::{Keyset, StoreError, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, texts, ulid};

fn client(env: &Environment, n: u64, client_id: &str) -> Client {
    Client {
        id: ClientId::from_ulid(ulid(n)),
        environment_id: env.id,
        client_id: client_id.into(),
        name: format!("Client {n}"),
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        token_format: TokenFormat::Jwt,
        first_party: false,
        secret_digest: Some(SecretDigest::new(format!("{n:064}"))),
        created_at: at(i64::try_from(n).unwrap() * 1_000 + 17),
        updated_at: at(i64::try_from(n).unwrap() * 1_000 + 17),
    }
}

async fn insert_clients(store: &DieselStore, clients: Vec<Client>) {
    store
        .transaction(move |tx| clients.iter().try_for_each(|c| tx.insert_client(c)))
        .await
        .unwrap();
}

on_both_backends! {
    /// Every mutable field changes on update, the type and `client_id` stay,
    /// and nothing crosses environments.
    async fn clients_are_found_updated_and_deleted_in_their_environment_only(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let original = client(&env, 1, "backend");
        insert_clients(&store, vec![original.clone()]).await;
        let (env_id, other_id, id) = (env.id, other.id, original.id);
        let found = store.read(move |tx| tx.find_client(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&original));
        assert_eq!(store.read(move |tx| tx.find_client(other_id, id)).await.unwrap(), None);

        let mut changed = original.clone();
        changed.name = "Renamed".into();
        changed.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
        changed.redirect_uris = vec!["https://app.example/cb".into(), "http://[::1]:8/cb".into()];
        changed.token_format = TokenFormat::Opaque;
        changed.first_party = true;
        changed.secret_digest = Some(SecretDigest::new("f".repeat(64)));
        changed.updated_at = at(99_000_001);
        let row = changed.clone();
        store.transaction(move |tx| tx.update_client(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_client(env_id, id)).await.unwrap();
        assert_eq!(found, Some(changed.clone()));
        assert_eq!(texts(db, "SELECT secret_digest AS v FROM clients"), ["f".repeat(64)]);

        let moved = Client { environment_id: other_id, ..changed.clone() };
        let err = store.transaction(move |tx| tx.update_client(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let ghost = client(&env, 2, "ghost");
        let err = store.transaction(move |tx| tx.update_client(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        assert!(!store.transaction(move |tx| tx.delete_client(other_id, id)).await.unwrap());
        assert_eq!(count(db, "clients"), 1);
        assert!(store.transaction(move |tx| tx.delete_client(env_id, id)).await.unwrap());
        assert_eq!(store.read(move |tx| tx.find_client(env_id, id)).await.unwrap(), None);
        assert!(!store.transaction(move |tx| tx.delete_client(env_id, id)).await.unwrap());
        assert_eq!(count(db, "clients"), 0);
    }
}

on_both_backends! {
    /// Deleting a client deletes its grants, and only its grants.
    async fn deleting_a_client_deletes_its_grants(db, store) {
        let env = insert_environment(&store, "default").await;
        let (doomed, kept) = (client(&env, 1, "doomed"), client(&env, 2, "kept"));
        let api = ResourceServer {
            id: ResourceServerId::from_ulid(ulid(3)),
            environment_id: env.id,
            name: "API".into(),
            identifier: "https://api.example".into(),
            token_lifetime: TokenLifetime::DEFAULT,
            system: false,
            created_at: at(1),
            updated_at: at(1),
        };
        let grant = |n: u64, client: &Client| ClientGrant {
            id: ClientGrantId::from_ulid(ulid(n)),
            environment_id: env.id,
            client_id: client.id,
            resource_server_id: api.id,
            allowed_scopes: vec!["read".into()],
            created_at: at(2),
        };
        let rows = (doomed.clone(), kept.clone(), api.clone(), grant(4, &doomed), grant(5, &kept));
        store
            .transaction(move |tx| {
                tx.insert_client(&rows.0)?;
                tx.insert_client(&rows.1)?;
                tx.insert_resource_server(&rows.2)?;
                tx.insert_client_grant(&rows.3)?;
                tx.insert_client_grant(&rows.4)
            })
            .await
            .unwrap();
        assert_eq!(count(db, "client_grants"), 2);
        let (env_id, id) = (env.id, doomed.id);
        assert!(store.transaction(move |tx| tx.delete_client(env_id, id)).await.unwrap());
        assert_eq!(
            texts(db, "SELECT client_id AS v FROM client_grants"),
            [kept.id.to_string()]
        );
    }
}

on_both_backends! {
    /// Pages follow id (creation) order, both ways, one environment only.
    async fn clients_list_in_id_order_by_keyset(_db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert_clients(
            &store,
            vec![
                client(&env, 3, "c"),
                client(&env, 1, "a"),
                client(&other, 5, "elsewhere"),
                client(&env, 4, "d"),
                client(&env, 2, "b"),
            ],
        )
        .await;
        let env_id = env.id;
        let ids = |cs: &[Client]| cs.iter().map(|c| c.client_id.clone()).collect::<Vec<_>>();
        let page = |after: Option<String>, descending: bool| {
            let store = store.clone();
            async move {
                let page = Keyset { limit: 3, descending, after };
                store.read(move |tx| tx.list_clients(env_id, &page)).await.unwrap()
            }
        };
        let first = page(None, false).await;
        assert_eq!(ids(&first), ["a", "b", "c"]);
        let second = page(Some(first[2].id.to_string()), false).await;
        assert_eq!(ids(&second), ["d"]);
        assert!(page(Some(second[0].id.to_string()), false).await.is_empty());
        let back = page(None, true).await;
        assert_eq!(ids(&back), ["d", "c", "b"]);
        assert_eq!(ids(&page(Some(back[2].id.to_string()), true).await), ["a"]);
    }
}
