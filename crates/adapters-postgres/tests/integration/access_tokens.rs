//! Opaque access tokens: found by digest in their environment only, revoked
//! once, and gone with their client or their resource server.

use portcullis_domain::access_token::OpaqueToken;
use portcullis_domain::environment::Environment;
use portcullis_domain::oauth::{
    Client, ClientType, GrantType, ResourceServer, SecretDigest, TokenFormat, TokenLifetime,
};
use portcullis_domain::{AccessTokenId, ClientId, ResourceServerId};
use portcullis_ports::store::UnitOfWork;

use crate::support::{at, count, execute, insert_environment, on_both_backends, ulid};

fn client(env: &Environment, n: u64) -> Client {
    Client {
        id: ClientId::from_ulid(ulid(n)),
        environment_id: env.id,
        client_id: format!("client-{n}"),
        name: "Machine".into(),
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        token_format: TokenFormat::Opaque,
        first_party: false,
        secret_digest: Some(SecretDigest::new("ab".repeat(32))),
        created_at: at(100),
        updated_at: at(100),
    }
}

fn server(env: &Environment, n: u64) -> ResourceServer {
    ResourceServer {
        id: ResourceServerId::from_ulid(ulid(n)),
        environment_id: env.id,
        name: format!("API {n}"),
        identifier: format!("https://api-{n}.example"),
        token_lifetime: TokenLifetime::new(900).unwrap(),
        system: false,
        created_at: at(100),
        updated_at: at(100),
    }
}

fn token(client: &Client, server: &ResourceServer, n: u64) -> OpaqueToken {
    OpaqueToken {
        id: AccessTokenId::from_ulid(ulid(n)),
        environment_id: client.environment_id,
        client: client.id,
        client_id: client.client_id.clone(),
        resource_server: server.id,
        audience: server.identifier.clone(),
        scopes: vec!["read:orders".into(), "write:orders".into()],
        digest: SecretDigest::new(format!("{n:064x}")),
        issued_at: at(1_000),
        expires_at: at(1_900),
        revoked_at: None,
        custom_claims: Some(r#"{"tier":"gold","n":[1,2]}"#.into()),
    }
}

on_both_backends! {
    /// Every field round-trips; a digest is found in its environment only;
    /// revocation happens once; client and resource server deletions take
    /// their tokens.
    async fn opaque_tokens_round_trip_revoke_once_and_die_with_their_client(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (c1, c2) = (client(&env, 1), client(&env, 2));
        let (s1, s2) = (server(&env, 3), server(&env, 4));
        let tokens = vec![token(&c1, &s1, 10), token(&c1, &s2, 11), token(&c2, &s1, 12)];
        let rows = (vec![c1.clone(), c2.clone()], vec![s1.clone(), s2.clone()], tokens.clone());
        store
            .transaction(move |tx| {
                rows.0.iter().try_for_each(|c| tx.insert_client(c))?;
                rows.1.iter().try_for_each(|s| tx.insert_resource_server(s))?;
                rows.2.iter().try_for_each(|t| tx.insert_access_token(t))
            })
            .await
            .unwrap();
        let (env_id, other_id) = (env.id, other.id);
        let digest = tokens[0].digest.clone();
        let wanted = digest.clone();
        let found = store.read(move |tx| tx.find_access_token(env_id, &wanted)).await.unwrap();
        assert_eq!(found, Some(tokens[0].clone()));
        let wanted = digest.clone();
        let elsewhere = store.read(move |tx| tx.find_access_token(other_id, &wanted)).await.unwrap();
        assert_eq!(elsewhere, None);

        let id = tokens[0].id;
        assert!(!store.transaction(move |tx| tx.revoke_access_token(other_id, id, at(1_500))).await.unwrap());
        assert!(store.transaction(move |tx| tx.revoke_access_token(env_id, id, at(1_500))).await.unwrap());
        assert!(!store.transaction(move |tx| tx.revoke_access_token(env_id, id, at(1_600))).await.unwrap());
        let wanted = digest.clone();
        let revoked = store.read(move |tx| tx.find_access_token(env_id, &wanted)).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at(1_500)), "the first revocation time stays");

        execute(db, &format!("DELETE FROM clients WHERE id = '{}'", c1.id));
        assert_eq!(count(db, "access_tokens"), 1);
        execute(db, &format!("DELETE FROM resource_servers WHERE id = '{}'", s1.id));
        assert_eq!(count(db, "access_tokens"), 0);
    }
}

on_both_backends! {
    /// Tokens that expired before the cut-off go, in batches of at most
    /// `limit`; the others stay.
    async fn expired_tokens_are_purged_in_bounded_batches(db, store) {
        let env = insert_environment(&store, "default").await;
        let (c, s) = (client(&env, 1), server(&env, 2));
        let mut tokens: Vec<_> = (10..15).map(|n| token(&c, &s, n)).collect();
        tokens[4].expires_at = at(9_000);
        let kept = tokens[4].id;
        store
            .transaction(move |tx| {
                tx.insert_client(&c)?;
                tx.insert_resource_server(&s)?;
                tokens.iter().try_for_each(|t| tx.insert_access_token(t))
            })
            .await
            .unwrap();

        let first = store.transaction(|tx| tx.purge_access_tokens(at(5_000), 3)).await.unwrap();
        assert_eq!(first, 3);
        let second = store.transaction(|tx| tx.purge_access_tokens(at(5_000), 3)).await.unwrap();
        assert_eq!(second, 1);
        let third = store.transaction(|tx| tx.purge_access_tokens(at(5_000), 3)).await.unwrap();
        assert_eq!(third, 0);
        assert_eq!(count(db, "access_tokens"), 1);
        assert_eq!(
            crate::support::texts(db, "SELECT id AS v FROM access_tokens"),
            [kept.to_string()]
        );
    }
}
