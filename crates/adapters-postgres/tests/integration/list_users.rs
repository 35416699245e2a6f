//! User listings: keyset pages in both orders on both sort keys, filters,
//! and search with LIKE wildcards taken literally.

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::EnvironmentId;
use portcullis_domain::environment::Environment;
use portcullis_domain::user::{PersonName, User};
use portcullis_ports::store::{Keyset, StoreError, UnitOfWork, UserQuery, UserSort};

use crate::support::{insert_environment, on_both_backends, user};

fn query(sort: UserSort, descending: bool, limit: u32) -> UserQuery {
    UserQuery {
        email: None,
        search: None,
        blocked: None,
        sort,
        page: Keyset {
            limit,
            descending,
            after: None,
        },
    }
}

async fn list(store: &DieselStore, env: EnvironmentId, query: UserQuery) -> Vec<User> {
    store
        .read(move |tx| tx.list_users(env, &query))
        .await
        .unwrap()
}

/// Follows pages until an empty one; returns the pages' sizes and the rows.
async fn all_pages(
    store: &DieselStore,
    env: EnvironmentId,
    mut query: UserQuery,
) -> (Vec<usize>, Vec<User>) {
    let mut sizes = Vec::new();
    let mut rows: Vec<User> = Vec::new();
    loop {
        let page = list(store, env, query.clone()).await;
        if page.is_empty() {
            return (sizes, rows);
        }
        sizes.push(page.len());
        let last = page.last().unwrap();
        query.page.after = Some(match query.sort {
            UserSort::CreatedAt => last.id().to_string(),
            UserSort::Email => last.email().as_str().to_owned(),
        });
        rows.extend(page);
        assert!(sizes.len() < 20, "pagination does not end");
    }
}

/// Seven users whose id order and e-mail order differ.
async fn seed(store: &DieselStore) -> (Environment, Vec<User>) {
    let env = insert_environment(store, "default").await;
    let emails = ["gus", "ann", "fay", "bob", "eve", "cat", "dan"];
    let users: Vec<User> = emails
        .iter()
        .zip(1u64..)
        .map(|(name, n)| user(&env, n, &format!("{name}@example.com")))
        .collect();
    let rows = users.clone();
    store
        .transaction(move |tx| rows.iter().try_for_each(|u| tx.insert_user(u)))
        .await
        .unwrap();
    // Another environment's users never show up.
    let other = insert_environment(store, "other").await;
    let stranger = user(&other, 99, "aaa@example.com");
    store
        .transaction(move |tx| tx.insert_user(&stranger))
        .await
        .unwrap();
    (env, users)
}

on_both_backends! {
    /// Creation order pages forwards and backwards with `after` = last id.
    async fn users_page_by_creation_in_both_directions(_db, store) {
        let (env, users) = seed(&store).await;
        let (sizes, rows) = all_pages(&store, env.id, query(UserSort::CreatedAt, false, 3)).await;
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(rows, users);

        let (sizes, rows) = all_pages(&store, env.id, query(UserSort::CreatedAt, true, 3)).await;
        assert_eq!(sizes, [3, 3, 1]);
        let mut reversed = users.clone();
        reversed.reverse();
        assert_eq!(rows, reversed);

        // `after` in the middle, descending: strictly before it.
        let mut middle = query(UserSort::CreatedAt, true, 10);
        middle.page.after = Some(users[3].id().to_string());
        let ids: Vec<_> = list(&store, env.id, middle).await.iter().map(User::id).collect();
        assert_eq!(ids, [users[2].id(), users[1].id(), users[0].id()]);
    }
}

on_both_backends! {
    /// E-mail order pages forwards and backwards with `after` = last e-mail.
    async fn users_page_by_email_in_both_directions(_db, store) {
        let (env, _) = seed(&store).await;
        let names = |rows: &[User]| -> Vec<String> {
            rows.iter().map(|u| u.email().as_str().split('@').next().unwrap().to_owned()).collect()
        };
        let (sizes, rows) = all_pages(&store, env.id, query(UserSort::Email, false, 2)).await;
        assert_eq!(sizes, [2, 2, 2, 1]);
        assert_eq!(names(&rows), ["ann", "bob", "cat", "dan", "eve", "fay", "gus"]);

        let (sizes, rows) = all_pages(&store, env.id, query(UserSort::Email, true, 4)).await;
        assert_eq!(sizes, [4, 3]);
        assert_eq!(names(&rows), ["gus", "fay", "eve", "dan", "cat", "bob", "ann"]);

        let mut after = query(UserSort::Email, false, 2);
        after.page.after = Some("cat@example.com".into());
        assert_eq!(names(&list(&store, env.id, after).await), ["dan", "eve"]);

        assert!(list(&store, env.id, query(UserSort::Email, false, 0)).await.is_empty());
    }
}

on_both_backends! {
    /// `email` matches exactly, `blocked` filters, and filters combine with paging.
    async fn users_filter_by_email_and_blocked(_db, store) {
        let env = insert_environment(&store, "default").await;
        let mut users: Vec<User> = (1..=4u64).map(|n| user(&env, n, &format!("u{n}@example.com"))).collect();
        for u in users.iter_mut().skip(2) {
            let now = u.created_at();
            u.apply(
                portcullis_domain::user::UserChanges { blocked: Some(true), ..Default::default() },
                now,
            );
        }
        let rows = users.clone();
        store.transaction(move |tx| rows.iter().try_for_each(|u| tx.insert_user(u))).await.unwrap();

        let mut by_email = query(UserSort::CreatedAt, false, 10);
        by_email.email = Some("u2@example.com".into());
        assert_eq!(list(&store, env.id, by_email.clone()).await, [users[1].clone()]);
        by_email.email = Some("u2@example".into());
        assert!(list(&store, env.id, by_email).await.is_empty(), "exact, not a prefix");

        let mut blocked = query(UserSort::CreatedAt, false, 10);
        blocked.blocked = Some(true);
        assert_eq!(list(&store, env.id, blocked.clone()).await, users[2..].to_vec());
        blocked.blocked = Some(false);
        assert_eq!(list(&store, env.id, blocked.clone()).await, users[..2].to_vec());

        blocked.blocked = Some(true);
        blocked.page.limit = 1;
        let (sizes, rows) = all_pages(&store, env.id, blocked).await;
        assert_eq!(sizes, [1, 1]);
        assert_eq!(rows, users[2..].to_vec());
    }
}

/// Inserts users with the given e-mail local parts and names.
async fn seed_named(
    store: &DieselStore,
    people: &[(&str, &str, &str)],
) -> (Environment, Vec<User>) {
    let env = insert_environment(store, "default").await;
    let users: Vec<User> = people
        .iter()
        .zip(1u64..)
        .map(|((local, first, last), n)| {
            let base = user(&env, n, &format!("{local}@example.com"));
            let mut parts = to_parts(&base);
            parts.first_name = PersonName::parse(first).unwrap();
            parts.last_name = PersonName::parse(last).unwrap();
            User::from_parts(parts).unwrap()
        })
        .collect();
    let rows = users.clone();
    store
        .transaction(move |tx| rows.iter().try_for_each(|u| tx.insert_user(u)))
        .await
        .unwrap();
    (env, users)
}

fn to_parts(u: &User) -> portcullis_domain::user::UserParts {
    portcullis_domain::user::UserParts {
        id: u.id(),
        environment_id: u.environment_id(),
        email: u.email().clone(),
        first_name: u.first_name().cloned(),
        last_name: u.last_name().cloned(),
        password_hash: u.password_hash().cloned(),
        email_verified: u.email_verified(),
        blocked: u.blocked(),
        metadata: u.metadata().clone(),
        created_at: u.created_at(),
        updated_at: u.updated_at(),
    }
}

async fn search(store: &DieselStore, env: EnvironmentId, term: &str) -> Vec<String> {
    let mut q = query(UserSort::CreatedAt, false, 50);
    q.search = Some(term.to_owned());
    list(store, env, q)
        .await
        .iter()
        .map(|u| u.email().as_str().split('@').next().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    /// Search is a case-insensitive substring of e-mail, first or last name.
    async fn users_search_email_and_names_ignoring_case(_db, store) {
        let (env, _) = seed_named(
            &store,
            &[
                ("alice", "Alice", "Martin"),
                ("bob", "Robert", "MARTINEZ"),
                ("carol", "Carol", "Smith"),
                ("dave.martin", "", ""),
            ],
        )
        .await;
        assert_eq!(search(&store, env.id, "martin").await, ["alice", "bob", "dave.martin"]);
        assert_eq!(search(&store, env.id, "ROB").await, ["bob"]);
        assert_eq!(search(&store, env.id, "CAROL@EXAMPLE").await, ["carol"]);
        assert_eq!(search(&store, env.id, "mit").await, ["carol"]);
        assert!(search(&store, env.id, "zzz").await.is_empty());
        // Combined with another filter.
        let mut q = query(UserSort::Email, true, 50);
        q.search = Some("martin".into());
        q.email = Some("alice@example.com".into());
        let found = store.read(move |tx| tx.list_users(env.id, &q)).await.unwrap();
        assert_eq!(found.len(), 1);
    }
}

on_both_backends! {
    /// `%`, `_` and `\` in a search term match themselves, not as wildcards.
    async fn users_search_takes_like_wildcards_literally(_db, store) {
        let (env, _) = seed_named(
            &store,
            &[
                ("p1", "50% off", "x"),
                ("p2", "500 off", "x"),
                ("p3", "a_b", "x"),
                ("p4", "axb", "x"),
                ("p5", "back\\slash", "x"),
                ("p6", "backslash", "x"),
            ],
        )
        .await;
        assert_eq!(search(&store, env.id, "50%").await, ["p1"]);
        assert_eq!(search(&store, env.id, "%").await, ["p1"]);
        assert_eq!(search(&store, env.id, "a_b").await, ["p3"]);
        assert_eq!(search(&store, env.id, "_").await, ["p3"]);
        assert_eq!(search(&store, env.id, "k\\s").await, ["p5"]);
        assert_eq!(search(&store, env.id, "\\").await, ["p5"]);
        let all = store
            .read(move |tx| Ok::<_, StoreError>(tx.list_users(env.id, &query(UserSort::CreatedAt, false, 50))?.len()))
            .await
            .unwrap();
        assert_eq!(all, 6);
    }
}
