//! Connections: round trips (ciphertext bytes, nullable columns), tenant
//! scoping, keyset pages, the discovery_url constraint and corrupt rows.

use portcullis_adapters_postgres::{Backend, DieselStore};
use portcullis_domain::ConnectionId;
use portcullis_domain::connection::{
    Connection, ConnectionChanges, DiscoveryUrl, DisplayName, EncryptedClientSecret, NewConnection,
    ProviderClientId, ProviderScopes, Strategy,
};
use portcullis_domain::environment::Environment;
use portcullis_ports::store::{Keyset, StoreError, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, texts, ulid};

fn connection(env: &Environment, n: u64, strategy: Strategy) -> Connection {
    Connection::create(
        ConnectionId::from_ulid(ulid(n)),
        env.id,
        NewConnection {
            strategy,
            display_name: DisplayName::parse(&format!("Connection {n}")).unwrap(),
            client_id: ProviderClientId::parse(&format!("client-{n}")).unwrap(),
            client_secret: Some(EncryptedClientSecret::new(vec![0, 1, 2, 255, 1])),
            scopes: ProviderScopes::parse("openid email profile").unwrap(),
            discovery_url: Some(
                DiscoveryUrl::parse("https://idp.example/.well-known/openid-configuration")
                    .unwrap(),
            ),
            enforce_sso: false,
        },
        at(i64::try_from(n).unwrap() * 1_000 + 654_321),
    )
    .unwrap()
}

async fn insert(store: &DieselStore, connections: Vec<Connection>) {
    store
        .transaction(move |tx| connections.iter().try_for_each(|c| tx.insert_connection(c)))
        .await
        .unwrap();
}

fn hex_secret(db: &portcullis_adapters_postgres::testing::TestDatabase) -> Vec<String> {
    let sql = match db.backend() {
        Backend::Postgres => {
            "SELECT coalesce(encode(client_secret, 'hex'), 'null') AS v FROM connections ORDER BY id"
        }
        Backend::Sqlite => {
            "SELECT CASE WHEN client_secret IS NULL THEN 'null' ELSE lower(hex(client_secret)) END AS v FROM connections ORDER BY id"
        }
    };
    texts(db, sql)
}

on_both_backends! {
    /// Every field survives insert, update and delete, in its environment only;
    /// the ciphertext is stored byte for byte and can be cleared to NULL columns.
    async fn connections_round_trip_through_insert_update_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let original = connection(&env, 1, Strategy::Oidc);
        insert(&store, vec![original.clone()]).await;
        let (env_id, other_id, id) = (env.id, other.id, original.id);
        let found = store.read(move |tx| tx.find_connection(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&original));
        assert_eq!(hex_secret(db), ["000102ff01"]);
        let cross = store.read(move |tx| tx.find_connection(other_id, id)).await.unwrap();
        assert_eq!(cross, None);

        let mut google = connection(&env, 2, Strategy::Google);
        google.client_secret = None;
        google.discovery_url = None;
        insert(&store, vec![google.clone()]).await;
        let google_id = google.id;
        let found = store.read(move |tx| tx.find_connection(env_id, google_id)).await.unwrap();
        assert_eq!(found, Some(google.clone()), "NULL secret and discovery_url");
        assert_eq!(hex_secret(db), ["000102ff01", "null"]);

        let mut changed = google.clone();
        changed
            .apply(
                ConnectionChanges {
                    display_name: Some(DisplayName::parse("").unwrap()),
                    client_id: Some(ProviderClientId::parse("new-client").unwrap()),
                    client_secret: Some(EncryptedClientSecret::new(vec![7; 40])),
                    scopes: Some(ProviderScopes::parse("").unwrap()),
                    discovery_url: Some(Some(DiscoveryUrl::parse("https://g.example/d").unwrap())),
                    enforce_sso: Some(true),
                },
                at(9_000_001),
            )
            .unwrap();
        let row = changed.clone();
        store.transaction(move |tx| tx.update_connection(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_connection(env_id, google_id)).await.unwrap();
        assert_eq!(found, Some(changed.clone()));
        // The strategy is not among the updated columns.
        let sneaky = Connection { strategy: Strategy::Github, ..changed.clone() };
        store.transaction(move |tx| tx.update_connection(&sneaky)).await.unwrap();
        assert_eq!(
            texts(db, &format!("SELECT strategy AS v FROM connections WHERE id = '{google_id}'")),
            ["google"]
        );
        changed.apply(ConnectionChanges { discovery_url: Some(None), ..ConnectionChanges::default() }, at(9_000_002)).unwrap();
        let row = changed.clone();
        store.transaction(move |tx| tx.update_connection(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_connection(env_id, google_id)).await.unwrap();
        assert_eq!(found.unwrap().discovery_url, None, "set back to NULL");

        let moved = Connection { environment_id: other_id, ..changed.clone() };
        let err = store.transaction(move |tx| tx.update_connection(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let ghost = connection(&env, 3, Strategy::Slack);
        let err = store.transaction(move |tx| tx.update_connection(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        assert!(!store.transaction(move |tx| tx.delete_connection(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_connection(env_id, id)).await.unwrap());
        assert_eq!(store.read(move |tx| tx.find_connection(env_id, id)).await.unwrap(), None);
        assert!(!store.transaction(move |tx| tx.delete_connection(env_id, id)).await.unwrap());
        assert_eq!(count(db, "connections"), 1);
    }
}

on_both_backends! {
    /// Keyset pages in id order, both directions, one environment only.
    async fn connections_list_in_keyset_pages(_db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert(
            &store,
            (1..=5)
                .map(|n| connection(&env, n, Strategy::Oidc))
                .chain([connection(&other, 6, Strategy::Oidc)])
                .collect(),
        )
        .await;
        let env_id = env.id;
        let page = |after: Option<String>, descending: bool| {
            let store = store.clone();
            async move {
                let page = Keyset { limit: 3, descending, after };
                store.read(move |tx| tx.list_connections(env_id, &page)).await.unwrap()
            }
        };
        let ids = |list: &[Connection]| list.iter().map(|c| c.client_id.as_str().to_owned()).collect::<Vec<_>>();
        let first = page(None, false).await;
        assert_eq!(ids(&first), ["client-1", "client-2", "client-3"]);
        let second = page(Some(first[2].id.to_string()), false).await;
        assert_eq!(ids(&second), ["client-4", "client-5"]);
        let newest = page(None, true).await;
        assert_eq!(ids(&newest), ["client-5", "client-4", "client-3"]);
    }
}

on_both_backends! {
    /// The schema refuses an oidc/auth0 row without discovery_url and an
    /// unknown strategy; rows that break the domain's rules surface as
    /// `Corrupt`; connections go with their environment.
    async fn connection_constraints_corrupt_rows_and_cascades(db, store) {
        let env = insert_environment(&store, "default").await;
        let mut bad = connection(&env, 1, Strategy::Oidc);
        bad.discovery_url = None;
        let err = store.transaction(move |tx| tx.insert_connection(&bad)).await.unwrap_err();
        assert!(!matches!(err, StoreError::NotFound | StoreError::Conflict(_)), "{err:?}");
        assert_eq!(count(db, "connections"), 0);

        let id = ConnectionId::from_ulid(ulid(2));
        execute(
            db,
            &format!(
                "INSERT INTO connections (id, environment_id, strategy, display_name, client_id, \
                 client_secret, scopes, discovery_url, enforce_sso, created_at, updated_at) \
                 VALUES ('{id}', '{}', 'google', '', 'has space', NULL, '', NULL, false, \
                 '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
                env.id
            ),
        );
        let env_id = env.id;
        let err = store.read(move |tx| tx.find_connection(env_id, id)).await.unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "connections"), 0);
    }
}
