//! User-roles: round trips, tenant scoping, uniqueness, filters, keyset
//! pages, the `user_count` of roles and cascades.

use portcullis_domain::UserRoleId;
use portcullis_domain::access::{Role, UserRole};
use portcullis_domain::user::User;
use portcullis_ports::store::{Keyset, StoreError, Unique, UnitOfWork, UserRoleQuery};

use crate::support::{at, count, execute, insert_environment, on_both_backends, role, ulid, user};

fn assign(user: &User, role: &Role, n: u64) -> UserRole {
    UserRole::assign(
        UserRoleId::from_ulid(ulid(n)),
        role.environment_id,
        user.id(),
        role.id,
        at(i64::try_from(n).unwrap() * 1_000 + 42),
    )
}

fn query(
    user: Option<portcullis_domain::UserId>,
    role: Option<portcullis_domain::RoleId>,
) -> UserRoleQuery {
    UserRoleQuery {
        user,
        role,
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Joins round trip, a pair is unique, filters and pages work, roles
    /// count their users in the same read, and deleting a user or a role
    /// deletes its joins.
    async fn user_roles_round_trip_filter_count_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (u1, u2) = (user(&env, 1, "u1@example.com"), user(&env, 2, "u2@example.com"));
        let (r1, r2) = (role(&env, 3, "r1"), role(&env, 4, "r2"));
        let joins = vec![assign(&u1, &r1, 10), assign(&u1, &r2, 11), assign(&u2, &r1, 12)];
        let (users, roles) = (vec![u1.clone(), u2.clone()], vec![r1.clone(), r2.clone()]);
        let stored = joins.clone();
        store
            .transaction(move |tx| {
                users.iter().try_for_each(|u| tx.insert_user(u))?;
                roles.iter().try_for_each(|r| tx.insert_role(r))?;
                stored.iter().try_for_each(|j| tx.insert_user_role(j))
            })
            .await
            .unwrap();
        let (env_id, other_id) = (env.id, other.id);
        let first = joins[0].clone();
        let id = first.id;
        assert_eq!(store.read(move |tx| tx.find_user_role(env_id, id)).await.unwrap(), Some(first));
        assert_eq!(store.read(move |tx| tx.find_user_role(other_id, id)).await.unwrap(), None);

        // Counts come with the role, on a single read and on a page.
        let r1_id = r1.id;
        let counted = store.read(move |tx| tx.find_role(env_id, r1_id)).await.unwrap().unwrap();
        assert_eq!((counted.user_count, counted.permission_count), (2, 0));
        let page = Keyset { limit: 10, descending: false, after: None };
        let listed = store.read(move |tx| tx.list_roles(env_id, &page)).await.unwrap();
        assert_eq!(listed.iter().map(|r| r.user_count).collect::<Vec<_>>(), [2, 1]);

        // The same pair again is a conflict, and the transaction goes on.
        let (dup, next) = (assign(&u1, &r1, 13), assign(&u2, &r2, 14));
        let conflict = store
            .transaction(move |tx| {
                let conflict = tx.insert_user_role(&dup).unwrap_err();
                tx.insert_user_role(&next)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::UserRole)), "{conflict:?}");

        let ids = |js: Vec<UserRole>| js.iter().map(|j| j.id).collect::<Vec<_>>();
        let list = |q: UserRoleQuery| {
            let store = store.clone();
            async move { store.read(move |tx| tx.list_user_roles(env_id, &q)).await.unwrap() }
        };
        let all = list(query(None, None)).await;
        assert_eq!(all.len(), 4);
        assert_eq!(ids(list(query(Some(u1.id()), None)).await), [joins[0].id, joins[1].id]);
        assert_eq!(ids(list(query(None, Some(r1.id))).await), [joins[0].id, joins[2].id]);
        assert_eq!(ids(list(query(Some(u2.id()), Some(r1.id))).await), [joins[2].id]);
        let mut paged = query(None, None);
        paged.page = Keyset { limit: 2, descending: true, after: Some(all[2].id.to_string()) };
        assert_eq!(ids(list(paged).await), [all[1].id, all[0].id]);
        let elsewhere = store
            .read(move |tx| tx.list_user_roles(other_id, &query(None, None)))
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        assert!(!store.transaction(move |tx| tx.delete_user_role(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_user_role(env_id, id)).await.unwrap());
        assert_eq!(count(db, "user_roles"), 3);

        // Cascades: a user takes its joins, a role takes its joins.
        let (u1_id, r1_id) = (u1.id(), r1.id);
        assert!(store.transaction(move |tx| tx.delete_user(env_id, u1_id)).await.unwrap());
        assert_eq!(count(db, "user_roles"), 2);
        assert!(store.transaction(move |tx| tx.delete_role(env_id, r1_id)).await.unwrap());
        assert_eq!(count(db, "user_roles"), 1);
        // A join whose user was deleted meanwhile (after a use case checked
        // it) is refused by the foreign key, as a missing reference.
        let orphan = assign(&u1, &r2, 15);
        let refused = store.transaction(move |tx| tx.insert_user_role(&orphan)).await.unwrap_err();
        assert!(matches!(refused, StoreError::MissingReference), "{refused:?}");
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "user_roles"), 0);
    }
}
