//! Roles and role-permissions: round trips with counts, tenant scoping,
//! uniqueness, filters, keyset pages and cascades.

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::access::{Role, RoleChanges, RoleName, RolePermission};
use portcullis_domain::{RoleId, RolePermissionId};
use portcullis_ports::store::{
    CountedRole, Keyset, RolePermissionQuery, StoreError, Unique, UnitOfWork,
};

use crate::support::{
    at, count, execute, insert_environment, on_both_backends, permission, role, ulid,
};

async fn insert_roles(store: &DieselStore, roles: Vec<Role>) {
    store
        .transaction(move |tx| roles.iter().try_for_each(|r| tx.insert_role(r)))
        .await
        .unwrap();
}

fn grant(
    role: &Role,
    permission: &portcullis_domain::access::Permission,
    n: u64,
) -> RolePermission {
    RolePermission::grant(
        RolePermissionId::from_ulid(ulid(n)),
        role.environment_id,
        role.id,
        permission.id,
        at(i64::try_from(n).unwrap() * 1_000 + 42),
    )
}

fn query(
    role: Option<RoleId>,
    permission: Option<portcullis_domain::PermissionId>,
) -> RolePermissionQuery {
    RolePermissionQuery {
        role,
        permission,
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Every field survives insert, update and delete, in its environment
    /// only, and reads come with zero counts.
    async fn roles_round_trip_through_insert_update_and_delete(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let original = role(&env, 1, "Report Readers");
        insert_roles(&store, vec![original.clone()]).await;
        let (env_id, other_id, id) = (env.id, other.id, original.id);
        let found = store.read(move |tx| tx.find_role(env_id, id)).await.unwrap();
        assert_eq!(
            found,
            Some(CountedRole { role: original.clone(), user_count: 0, permission_count: 0 })
        );
        assert_eq!(store.read(move |tx| tx.find_role(other_id, id)).await.unwrap(), None);

        let mut changed = original.clone();
        changed.apply(
            RoleChanges { name: Some(RoleName::parse("Readers").unwrap()), ..RoleChanges::default() },
            at(9_000_001),
        );
        let row = changed.clone();
        store.transaction(move |tx| tx.update_role(&row)).await.unwrap();
        let found = store.read(move |tx| tx.find_role(env_id, id)).await.unwrap().unwrap();
        assert_eq!(found.role, changed);

        let moved = Role { environment_id: other_id, ..changed.clone() };
        let err = store.transaction(move |tx| tx.update_role(&moved)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        assert!(!store.transaction(move |tx| tx.delete_role(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_role(env_id, id)).await.unwrap());
        assert!(!store.transaction(move |tx| tx.delete_role(env_id, id)).await.unwrap());
        assert_eq!(count(db, "roles"), 0);
    }
}

on_both_backends! {
    /// Names are unique per environment; the transaction goes on after the conflict.
    async fn role_names_are_unique_per_environment(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert_roles(&store, vec![role(&env, 1, "admin"), role(&env, 2, "Admin"), role(&other, 3, "admin")]).await;
        let (clash, next) = (role(&env, 4, "admin"), role(&env, 5, "editor"));
        let conflict = store
            .transaction(move |tx| {
                let conflict = tx.insert_role(&clash).unwrap_err();
                tx.insert_role(&next)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::RoleName)), "{conflict:?}");
        let mut renamed = role(&env, 2, "Admin");
        renamed.apply(RoleChanges { name: Some(RoleName::parse("editor").unwrap()), ..RoleChanges::default() }, at(8_000_000));
        let err = store.transaction(move |tx| tx.update_role(&renamed)).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(Unique::RoleName)), "{err:?}");
        assert_eq!(count(db, "roles"), 4);
    }
}

on_both_backends! {
    /// Keyset pages of roles in both directions, each with its permission count.
    async fn roles_list_by_keyset_with_counts(_db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (a, b, c) = (role(&env, 1, "a"), role(&env, 2, "b"), role(&env, 3, "c"));
        let elsewhere = role(&other, 4, "elsewhere");
        insert_roles(&store, vec![c.clone(), a.clone(), elsewhere, b.clone()]).await;
        let (p1, p2) = (permission(&env, 10, "p1"), permission(&env, 11, "p2"));
        let joins = [grant(&a, &p1, 20), grant(&a, &p2, 21), grant(&c, &p2, 22)];
        store
            .transaction(move |tx| {
                tx.insert_permission(&p1)?;
                tx.insert_permission(&p2)?;
                joins.iter().try_for_each(|j| tx.insert_role_permission(j))
            })
            .await
            .unwrap();
        let env_id = env.id;
        let page = |after: Option<String>, descending: bool| {
            let store = store.clone();
            async move {
                let page = Keyset { limit: 2, descending, after };
                store.read(move |tx| tx.list_roles(env_id, &page)).await.unwrap()
            }
        };
        let shown = |rs: &[CountedRole]| {
            rs.iter().map(|r| (r.role.name.as_str().to_owned(), r.permission_count, r.user_count)).collect::<Vec<_>>()
        };
        let first = page(None, false).await;
        assert_eq!(shown(&first), [("a".to_owned(), 2, 0), ("b".to_owned(), 0, 0)]);
        let second = page(Some(first[1].role.id.to_string()), false).await;
        assert_eq!(shown(&second), [("c".to_owned(), 1, 0)]);
        let back = page(None, true).await;
        assert_eq!(shown(&back), [("c".to_owned(), 1, 0), ("b".to_owned(), 0, 0)]);
        let a_id = a.id;
        let found = store.read(move |tx| tx.find_role(env_id, a_id)).await.unwrap().unwrap();
        assert_eq!(found.permission_count, 2);
    }
}

on_both_backends! {
    /// Joins round trip, a pair is unique, filters and pages work, and
    /// deleting a role or a permission deletes its joins.
    async fn role_permissions_round_trip_filter_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (r1, r2) = (role(&env, 1, "r1"), role(&env, 2, "r2"));
        let (p1, p2) = (permission(&env, 3, "p1"), permission(&env, 4, "p2"));
        let joins = vec![grant(&r1, &p1, 10), grant(&r1, &p2, 11), grant(&r2, &p1, 12)];
        let (rows, ps) = (vec![r1.clone(), r2.clone()], vec![p1.clone(), p2.clone()]);
        let stored = joins.clone();
        store
            .transaction(move |tx| {
                rows.iter().try_for_each(|r| tx.insert_role(r))?;
                ps.iter().try_for_each(|p| tx.insert_permission(p))?;
                stored.iter().try_for_each(|j| tx.insert_role_permission(j))
            })
            .await
            .unwrap();
        let (env_id, other_id) = (env.id, other.id);
        let first = joins[0].clone();
        let id = first.id;
        assert_eq!(store.read(move |tx| tx.find_role_permission(env_id, id)).await.unwrap(), Some(first));
        assert_eq!(store.read(move |tx| tx.find_role_permission(other_id, id)).await.unwrap(), None);

        // The same pair again is a conflict, and the transaction goes on.
        let (dup, next) = (grant(&r1, &p1, 13), grant(&r2, &p2, 14));
        let conflict = store
            .transaction(move |tx| {
                let conflict = tx.insert_role_permission(&dup).unwrap_err();
                tx.insert_role_permission(&next)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::RolePermission)), "{conflict:?}");

        let ids = |js: Vec<RolePermission>| js.iter().map(|j| j.id).collect::<Vec<_>>();
        let list = |q: RolePermissionQuery| {
            let store = store.clone();
            async move { store.read(move |tx| tx.list_role_permissions(env_id, &q)).await.unwrap() }
        };
        let all = list(query(None, None)).await;
        assert_eq!(all.len(), 4);
        assert_eq!(ids(list(query(Some(r1.id), None)).await), [joins[0].id, joins[1].id]);
        assert_eq!(ids(list(query(None, Some(p1.id))).await), [joins[0].id, joins[2].id]);
        assert_eq!(ids(list(query(Some(r2.id), Some(p1.id))).await), [joins[2].id]);
        let mut paged = query(None, None);
        paged.page = Keyset { limit: 2, descending: true, after: Some(all[2].id.to_string()) };
        assert_eq!(ids(list(paged).await), [all[1].id, all[0].id]);
        let elsewhere = store
            .read(move |tx| tx.list_role_permissions(other_id, &query(None, None)))
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        assert!(!store.transaction(move |tx| tx.delete_role_permission(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_role_permission(env_id, id)).await.unwrap());
        assert_eq!(count(db, "role_permissions"), 3);

        // Cascades: a role takes its joins, a permission takes its joins.
        let (r1_id, p1_id) = (r1.id, p1.id);
        assert!(store.transaction(move |tx| tx.delete_role(env_id, r1_id)).await.unwrap());
        assert_eq!(count(db, "role_permissions"), 2);
        assert!(store.transaction(move |tx| tx.delete_permission(env_id, p1_id)).await.unwrap());
        assert_eq!(count(db, "role_permissions"), 1);
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "role_permissions"), 0);
        assert_eq!(count(db, "roles"), 0);
    }
}
