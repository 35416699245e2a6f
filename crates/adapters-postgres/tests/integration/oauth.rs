//! Clients, resource servers, scopes and client grants.

use portcullis_domain::environment::Environment;
use portcullis_domain::oauth::{
    Client, ClientGrant, ClientType, GrantType, ResourceServer, Scope, SecretDigest, TokenFormat,
    TokenLifetime,
};
use portcullis_domain::{ClientGrantId, ClientId, ResourceServerId, ScopeId};
use portcullis_ports::store::{ClientGrantQuery, Keyset, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, texts, ulid};

fn client(env: &Environment, n: u64, client_id: &str) -> Client {
    Client {
        id: ClientId::from_ulid(ulid(n)),
        environment_id: env.id,
        client_id: client_id.into(),
        name: format!("Client \"{n}\""),
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::ClientCredentials, GrantType::RefreshToken],
        redirect_uris: vec![
            "https://app.example.com/cb?x=1".into(),
            "http://localhost:3000/cb".into(),
        ],
        token_format: TokenFormat::Opaque,
        first_party: true,
        secret_digest: Some(SecretDigest::new("ab".repeat(32))),
        created_at: at(100),
        updated_at: at(200),
    }
}

fn resource_server(env: &Environment, n: u64, identifier: &str) -> ResourceServer {
    ResourceServer {
        id: ResourceServerId::from_ulid(ulid(n)),
        environment_id: env.id,
        name: format!("API {n}"),
        identifier: identifier.into(),
        token_lifetime: TokenLifetime::new(900).unwrap(),
        system: n == 1,
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

on_both_backends! {
    /// Clients round-trip (JSON arrays, enums, optional digest) and their
    /// `client_id` is unique per environment only.
    async fn clients_round_trip_and_client_ids_are_unique_per_environment(_db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let mut public = client(&env, 2, "spa");
        public.client_type = ClientType::Public;
        public.grant_types = vec![GrantType::AuthorizationCode];
        public.redirect_uris = vec![];
        public.token_format = TokenFormat::Jwt;
        public.first_party = false;
        public.secret_digest = None;
        let rows = (client(&env, 1, "backend"), public.clone(), client(&other, 3, "backend"));
        store
            .transaction(move |tx| {
                tx.insert_client(&rows.0)?;
                tx.insert_client(&rows.1)?;
                tx.insert_client(&rows.2)
            })
            .await
            .unwrap();
        let env_id = env.id;
        let (backend, spa, missing) = store
            .read(move |tx| {
                Ok::<_, StoreError>((
                    tx.find_client_by_client_id(env_id, "backend")?,
                    tx.find_client_by_client_id(env_id, "spa")?,
                    tx.find_client_by_client_id(env_id, "nope")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(backend, Some(client(&env, 1, "backend")));
        assert_eq!(spa, Some(public));
        assert_eq!(missing, None);

        let clash = client(&env, 4, "backend");
        let err = store.transaction(move |tx| tx.insert_client(&clash)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::ClientId)), "{err:?}");
    }
}

on_both_backends! {
    /// Resource servers round-trip, identifiers are unique per environment,
    /// scopes are stored, and a scope name is unique per resource server
    /// (a batch with a clash inserts nothing).
    async fn resource_servers_and_scopes_round_trip_with_their_conflicts(db, store) {
        let env = insert_environment(&store, "default").await;
        let management = resource_server(&env, 1, "https://default.example.com/api/v2/");
        let orders = resource_server(&env, 2, "https://orders.example.com");
        let rows = (management.clone(), orders.clone());
        store
            .transaction(move |tx| {
                tx.insert_resource_server(&rows.0)?;
                tx.insert_resource_server(&rows.1)?;
                tx.insert_scopes(&[
                    scope(&rows.0, 10, "users:read"),
                    scope(&rows.0, 11, "users:write"),
                    // Same name, other resource server: fine.
                    scope(&rows.1, 12, "users:read"),
                ])
            })
            .await
            .unwrap();
        let env_id = env.id;
        let found = store
            .read(move |tx| {
                Ok::<_, StoreError>((
                    tx.find_resource_server_by_identifier(env_id, "https://orders.example.com")?,
                    tx.find_resource_server_by_identifier(env_id, "https://orders.example.com/")?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(found, (Some(orders.clone()), None));
        assert_eq!(
            texts(db, "SELECT resource_server_id || ' ' || name || ' ' || description AS v FROM scopes ORDER BY id"),
            [
                format!("{} users:read Allows users:read", management.id),
                format!("{} users:write Allows users:write", management.id),
                format!("{} users:read Allows users:read", orders.id),
            ]
        );

        let clash = resource_server(&env, 3, "https://orders.example.com");
        let err = store.transaction(move |tx| tx.insert_resource_server(&clash)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::ResourceServerIdentifier)), "{err:?}");

        let batch = vec![scope(&management, 20, "orders:read"), scope(&management, 21, "users:write")];
        let (err, after) = store
            .transaction(move |tx| {
                let err = tx.insert_scopes(&batch).unwrap_err();
                // The savepoint covered the whole batch; the transaction goes on.
                let after = tx.find_resource_server_by_identifier(env_id, "https://orders.example.com")?;
                Ok::<_, StoreError>((err, after))
            })
            .await
            .unwrap();
        assert!(matches!(err, StoreError::Conflict(Unique::ScopeName)), "{err:?}");
        assert!(after.is_some());
        assert_eq!(count(db, "scopes"), 3, "no scope of the clashing batch was inserted");
    }
}

on_both_backends! {
    /// Grants round-trip and there is one per client and resource server.
    async fn client_grants_round_trip_and_are_unique_per_pair(_db, store) {
        let env = insert_environment(&store, "default").await;
        let app = client(&env, 1, "backend");
        let api = resource_server(&env, 2, "https://orders.example.com");
        let other_api = resource_server(&env, 3, "https://billing.example.com");
        let grant = ClientGrant {
            id: ClientGrantId::from_ulid(ulid(4)),
            environment_id: env.id,
            client_id: app.id,
            resource_server_id: api.id,
            allowed_scopes: vec!["orders:read".into(), "orders:write".into()],
            created_at: at(600),
        };
        let rows = (app.clone(), api.clone(), other_api.clone(), grant.clone());
        store
            .transaction(move |tx| {
                tx.insert_client(&rows.0)?;
                tx.insert_resource_server(&rows.1)?;
                tx.insert_resource_server(&rows.2)?;
                tx.insert_client_grant(&rows.3)
            })
            .await
            .unwrap();
        let (env_id, app_id, api_id, other_id) = (env.id, app.id, api.id, other_api.id);
        let found = store
            .read(move |tx| {
                Ok::<_, StoreError>((
                    tx.find_client_grant(env_id, app_id, api_id)?,
                    tx.find_client_grant(env_id, app_id, other_id)?,
                ))
            })
            .await
            .unwrap();
        assert_eq!(found, (Some(grant.clone()), None));

        let again = ClientGrant { id: ClientGrantId::from_ulid(ulid(5)), allowed_scopes: vec![], ..grant };
        let err = store.transaction(move |tx| tx.insert_client_grant(&again)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::ClientGrant)), "{err:?}");
    }
}

fn grant_query(
    client: Option<ClientId>,
    resource_server: Option<ResourceServerId>,
) -> ClientGrantQuery {
    ClientGrantQuery {
        client,
        resource_server,
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Grants are found by id in their environment only, listed with both
    /// filters and keyset pages, and deleted; the scopes of a resource
    /// server are read (and locked) for validation, in id order.
    async fn client_grants_by_id_filters_pages_and_deletion(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (a, b) = (client(&env, 1, "a"), client(&env, 2, "b"));
        let (x, y) = (
            resource_server(&env, 3, "https://x.example.com"),
            resource_server(&env, 4, "https://y.example.com"),
        );
        let scopes = vec![scope(&x, 6, "x:write"), scope(&x, 5, "x:read"), scope(&y, 7, "y:read")];
        let grant = |n: u64, c: &Client, rs: &ResourceServer| ClientGrant {
            id: ClientGrantId::from_ulid(ulid(n)),
            environment_id: env.id,
            client_id: c.id,
            resource_server_id: rs.id,
            allowed_scopes: vec![format!("scope-{n}")],
            created_at: at(600),
        };
        let grants = vec![grant(10, &a, &x), grant(11, &a, &y), grant(12, &b, &x)];
        let rows = (vec![a.clone(), b.clone()], vec![x.clone(), y.clone()], scopes, grants.clone());
        store
            .transaction(move |tx| {
                rows.0.iter().try_for_each(|c| tx.insert_client(c))?;
                rows.1.iter().try_for_each(|rs| tx.insert_resource_server(rs))?;
                tx.insert_scopes(&rows.2)?;
                rows.3.iter().try_for_each(|g| tx.insert_client_grant(g))
            })
            .await
            .unwrap();
        let (env_id, other_id, first) = (env.id, other.id, grants[0].clone());
        let id = first.id;
        assert_eq!(
            store.read(move |tx| tx.find_client_grant_by_id(env_id, id)).await.unwrap(),
            Some(first)
        );
        assert_eq!(store.read(move |tx| tx.find_client_grant_by_id(other_id, id)).await.unwrap(), None);

        let x_id = x.id;
        let locked = store
            .transaction(move |tx| tx.lock_scopes_of_resource_server(env_id, x_id))
            .await
            .unwrap();
        assert_eq!(locked.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["x:read", "x:write"]);
        let elsewhere = store
            .transaction(move |tx| tx.lock_scopes_of_resource_server(other_id, x_id))
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        let ids = |gs: Vec<ClientGrant>| gs.iter().map(|g| g.id).collect::<Vec<_>>();
        let list = |q: ClientGrantQuery| {
            let store = store.clone();
            async move { store.read(move |tx| tx.list_client_grants(env_id, &q)).await.unwrap() }
        };
        assert_eq!(list(grant_query(None, None)).await, grants);
        assert_eq!(ids(list(grant_query(Some(a.id), None)).await), [grants[0].id, grants[1].id]);
        assert_eq!(ids(list(grant_query(None, Some(x.id))).await), [grants[0].id, grants[2].id]);
        assert_eq!(ids(list(grant_query(Some(b.id), Some(x.id))).await), [grants[2].id]);
        let mut paged = grant_query(None, None);
        paged.page = Keyset { limit: 1, descending: false, after: Some(grants[0].id.to_string()) };
        assert_eq!(ids(list(paged).await), [grants[1].id]);
        let mut paged = grant_query(None, None);
        paged.page = Keyset { limit: 5, descending: true, after: Some(grants[2].id.to_string()) };
        assert_eq!(ids(list(paged).await), [grants[1].id, grants[0].id]);
        let elsewhere = store
            .read(move |tx| tx.list_client_grants(other_id, &grant_query(None, None)))
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        assert!(!store.transaction(move |tx| tx.delete_client_grant(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_client_grant(env_id, id)).await.unwrap());
        assert!(!store.transaction(move |tx| tx.delete_client_grant(env_id, id)).await.unwrap());
        assert_eq!(count(db, "client_grants"), 2);
    }
}

on_both_backends! {
    /// A grant write that reads the scopes of a resource server while a
    /// rename of one of them is still open waits for it and sees the new
    /// name: a grant can never be validated against a stale scope name.
    async fn locked_scope_reads_wait_for_an_open_rename(_db, store) {
        let env = insert_environment(&store, "default").await;
        let x = resource_server(&env, 3, "https://x.example.com");
        let read = scope(&x, 5, "x:read");
        let rows = (x.clone(), read.clone());
        store
            .transaction(move |tx| {
                tx.insert_resource_server(&rows.0)?;
                tx.insert_scopes(std::slice::from_ref(&rows.1))
            })
            .await
            .unwrap();
        let (renamed_tx, renamed_rx) = std::sync::mpsc::channel();
        let renamer = store.clone();
        let rename = tokio::spawn(async move {
            renamer
                .transaction(move |tx| {
                    tx.update_scope(&Scope { name: "x:list".into(), ..read })?;
                    renamed_tx.send(()).unwrap();
                    // Hold the row lock a while before committing.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, StoreError>(())
                })
                .await
        });
        tokio::task::spawn_blocking(move || renamed_rx.recv().unwrap()).await.unwrap();
        let (env_id, x_id) = (env.id, x.id);
        let seen = store
            .transaction(move |tx| tx.lock_scopes_of_resource_server(env_id, x_id))
            .await
            .unwrap();
        rename.await.unwrap().unwrap();
        assert_eq!(seen.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["x:list"]);
    }
}
