//! Resource servers and scopes: reads, updates, deletes with their
//! cascades, keyset pages, and the grant rewrites a scope change needs.

use portcullis_domain::environment::Environment;
use portcullis_domain::oauth::{
    Client, ClientGrant, ClientType, GrantType, ResourceServer, Scope, TokenFormat, TokenLifetime,
};
use portcullis_domain::{ClientGrantId, ClientId, ResourceServerId, ScopeId};
use portcullis_ports::store::{Keyset, ScopeQuery, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, texts, ulid};

fn server(env: &Environment, n: u64, identifier: &str) -> ResourceServer {
    ResourceServer {
        id: ResourceServerId::from_ulid(ulid(n)),
        environment_id: env.id,
        name: format!("API {n}"),
        identifier: identifier.into(),
        token_lifetime: TokenLifetime::new(900).unwrap(),
        system: false,
        created_at: at(300),
        updated_at: at(400),
    }
}

fn scope(rs: &ResourceServer, n: u64, name: &str) -> Scope {
    Scope {
        id: ScopeId::from_ulid(ulid(n)),
        environment_id: rs.environment_id,
        resource_server_id: rs.id,
        name: name.into(),
        description: format!("Allows {name}"),
        created_at: at(500),
    }
}

fn client(env: &Environment, n: u64) -> Client {
    Client {
        id: ClientId::from_ulid(ulid(n)),
        environment_id: env.id,
        client_id: format!("client-{n}"),
        name: format!("Client {n}"),
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        token_format: TokenFormat::Jwt,
        first_party: false,
        secret_digest: None,
        created_at: at(100),
        updated_at: at(100),
    }
}

fn grant(client: &Client, rs: &ResourceServer, n: u64, scopes: &[&str]) -> ClientGrant {
    ClientGrant {
        id: ClientGrantId::from_ulid(ulid(n)),
        environment_id: rs.environment_id,
        client_id: client.id,
        resource_server_id: rs.id,
        allowed_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        created_at: at(600),
    }
}

fn page(limit: u32, descending: bool, after: Option<String>) -> Keyset {
    Keyset {
        limit,
        descending,
        after,
    }
}

on_both_backends! {
    /// Resource servers are read, updated, listed and deleted within their
    /// environment only; deleting one deletes its scopes and grants.
    async fn resource_servers_update_list_and_delete_with_cascades(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let orders = server(&env, 1, "https://orders.example.com");
        let billing = server(&env, 2, "https://billing.example.com");
        let foreign = server(&other, 3, "https://orders.example.com");
        let app = client(&env, 4);
        let rows = (orders.clone(), billing.clone(), foreign.clone(), app.clone());
        store
            .transaction(move |tx| {
                tx.insert_resource_server(&rows.0)?;
                tx.insert_resource_server(&rows.1)?;
                tx.insert_resource_server(&rows.2)?;
                tx.insert_client(&rows.3)?;
                tx.insert_scopes(&[scope(&rows.0, 5, "orders:read"), scope(&rows.1, 6, "billing:read")])?;
                tx.insert_client_grant(&grant(&rows.3, &rows.0, 7, &["orders:read"]))?;
                tx.insert_client_grant(&grant(&rows.3, &rows.1, 8, &["billing:read"]))
            })
            .await
            .unwrap();
        let (env_id, other_id, id) = (env.id, other.id, orders.id);
        let found = store.read(move |tx| tx.find_resource_server(env_id, id)).await.unwrap();
        assert_eq!(found, Some(orders.clone()));
        let cross = store.read(move |tx| tx.find_resource_server(other_id, id)).await.unwrap();
        assert_eq!(cross, None);

        let mut changed = orders.clone();
        changed.name = "Orders v2".into();
        changed.token_lifetime = TokenLifetime::new(60).unwrap();
        changed.updated_at = at(9_000_001);
        changed.identifier = "https://ignored.example.com".into();
        let row = changed.clone();
        store.transaction(move |tx| tx.update_resource_server(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_resource_server(env_id, id)).await.unwrap().unwrap();
        assert_eq!(found.name, "Orders v2");
        assert_eq!(found.token_lifetime.seconds(), 60);
        assert_eq!(found.updated_at, at(9_000_001));
        assert_eq!(found.identifier, orders.identifier, "the identifier is never written");
        let moved = ResourceServer { environment_id: other_id, ..changed.clone() };
        let err = store.transaction(move |tx| tx.update_resource_server(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let first = store.read(move |tx| tx.list_resource_servers(env_id, &page(1, false, None))).await.unwrap();
        assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [orders.id]);
        let after = Some(orders.id.to_string());
        let next = store.read(move |tx| tx.list_resource_servers(env_id, &page(5, false, after))).await.unwrap();
        assert_eq!(next.iter().map(|r| r.id).collect::<Vec<_>>(), [billing.id]);
        let desc = store.read(move |tx| tx.list_resource_servers(env_id, &page(5, true, None))).await.unwrap();
        assert_eq!(desc.iter().map(|r| r.id).collect::<Vec<_>>(), [billing.id, orders.id]);

        assert!(!store.transaction(move |tx| tx.delete_resource_server(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_resource_server(env_id, id)).await.unwrap());
        assert_eq!(store.read(move |tx| tx.find_resource_server(env_id, id)).await.unwrap(), None);
        assert_eq!(texts(db, "SELECT name AS v FROM scopes"), ["billing:read"], "its scopes went with it");
        assert_eq!(count(db, "client_grants"), 1, "its grants went with it");
        assert_eq!(count(db, "resource_servers"), 2);
    }
}

on_both_backends! {
    /// Scopes are read, renamed (unique per resource server), filtered,
    /// paged and deleted within their environment.
    async fn scopes_update_list_filter_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let orders = server(&env, 1, "https://orders.example.com");
        let billing = server(&env, 2, "https://billing.example.com");
        let (read, write, bill) = (scope(&orders, 3, "read"), scope(&orders, 4, "write"), scope(&billing, 5, "read"));
        let rows = (orders.clone(), billing.clone(), read.clone(), write.clone(), bill.clone());
        store
            .transaction(move |tx| {
                tx.insert_resource_server(&rows.0)?;
                tx.insert_resource_server(&rows.1)?;
                tx.insert_scopes(&[rows.2, rows.3, rows.4])
            })
            .await
            .unwrap();
        let (env_id, other_id, id) = (env.id, other.id, read.id);
        assert_eq!(store.read(move |tx| tx.find_scope(env_id, id)).await.unwrap(), Some(read.clone()));
        assert_eq!(store.read(move |tx| tx.find_scope(other_id, id)).await.unwrap(), None);

        let mut renamed = read.clone();
        renamed.name = "write".into();
        let row = renamed.clone();
        let err = store.transaction(move |tx| tx.update_scope(&row)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::ScopeName)), "{err:?}");
        renamed.name = "orders:read".into();
        renamed.description = "Reads\norders".into();
        let row = renamed.clone();
        store.transaction(move |tx| tx.update_scope(&row)).await.unwrap();
        assert_eq!(store.read(move |tx| tx.find_scope(env_id, id)).await.unwrap(), Some(renamed.clone()));
        let ghost = scope(&orders, 9, "ghost");
        let err = store.transaction(move |tx| tx.update_scope(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let query = ScopeQuery { resource_server: Some(orders.id), page: page(1, false, None) };
        let first = store.read(move |tx| tx.list_scopes(env_id, &query)).await.unwrap();
        assert_eq!(first.iter().map(|s| s.id).collect::<Vec<_>>(), [read.id]);
        let query = ScopeQuery { resource_server: Some(orders.id), page: page(5, false, Some(read.id.to_string())) };
        let next = store.read(move |tx| tx.list_scopes(env_id, &query)).await.unwrap();
        assert_eq!(next.iter().map(|s| s.id).collect::<Vec<_>>(), [write.id]);
        let query = ScopeQuery { resource_server: None, page: page(5, true, None) };
        let all = store.read(move |tx| tx.list_scopes(env_id, &query)).await.unwrap();
        assert_eq!(all.iter().map(|s| s.id).collect::<Vec<_>>(), [bill.id, write.id, read.id]);
        let query = ScopeQuery { resource_server: None, page: page(5, false, None) };
        assert!(store.read(move |tx| tx.list_scopes(other_id, &query)).await.unwrap().is_empty());

        assert!(!store.transaction(move |tx| tx.delete_scope(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_scope(env_id, id)).await.unwrap());
        assert!(!store.transaction(move |tx| tx.delete_scope(env_id, id)).await.unwrap());
        assert_eq!(count(db, "scopes"), 2);
    }
}

on_both_backends! {
    /// The grants of one resource server are read together and their
    /// `allowed_scopes` rewritten one by one.
    async fn grants_of_a_resource_server_are_read_and_rewritten(db, store) {
        let env = insert_environment(&store, "default").await;
        let orders = server(&env, 1, "https://orders.example.com");
        let billing = server(&env, 2, "https://billing.example.com");
        let (a, b) = (client(&env, 3), client(&env, 4));
        let grants = (
            grant(&a, &orders, 5, &["read", "write"]),
            grant(&b, &orders, 6, &["write"]),
            grant(&a, &billing, 7, &["write"]),
        );
        let rows = (orders.clone(), billing.clone(), a, b, grants.clone());
        store
            .transaction(move |tx| {
                tx.insert_resource_server(&rows.0)?;
                tx.insert_resource_server(&rows.1)?;
                tx.insert_client(&rows.2)?;
                tx.insert_client(&rows.3)?;
                tx.insert_client_grant(&rows.4.0)?;
                tx.insert_client_grant(&rows.4.1)?;
                tx.insert_client_grant(&rows.4.2)
            })
            .await
            .unwrap();
        let (env_id, orders_id) = (env.id, orders.id);
        let found = store
            .transaction(move |tx| tx.lock_client_grants_of_resource_server(env_id, orders_id))
            .await
            .unwrap();
        assert_eq!(found, [grants.0.clone(), grants.1.clone()]);

        let mut changed = grants.0.clone();
        changed.allowed_scopes = vec!["read".into(), "a\"quote".into()];
        let row = changed.clone();
        store.transaction(move |tx| tx.update_client_grant_scopes(&row)).await.unwrap();
        let found = store
            .read(move |tx| tx.lock_client_grants_of_resource_server(env_id, orders_id))
            .await
            .unwrap();
        assert_eq!(found[0], changed);
        assert_eq!(
            texts(db, "SELECT allowed_scopes AS v FROM client_grants ORDER BY id"),
            [r#"["read","a\"quote"]"#, r#"["write"]"#, r#"["write"]"#]
        );
        let ghost = ClientGrant { id: ClientGrantId::from_ulid(ulid(99)), ..changed };
        let err = store.transaction(move |tx| tx.update_client_grant_scopes(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
}
