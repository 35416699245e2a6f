//! Organizations and memberships: round trips, tenant scoping, the
//! `member_count`, one membership per pair, roles kept in order and
//! replaced, filters, keyset pages and cascades.

use portcullis_domain::organization::{Membership, Organization, OrganizationName};
use portcullis_domain::user::{Metadata, User};
use portcullis_domain::{MembershipId, OrganizationId, RoleId, UserId};
use portcullis_ports::store::{Keyset, MembershipQuery, StoreError, Unique, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, role, ulid, user};

fn organization(
    env: &portcullis_domain::environment::Environment,
    n: u64,
    name: &str,
) -> Organization {
    Organization::found(
        OrganizationId::from_ulid(ulid(n)),
        env.id,
        OrganizationName::parse(name).unwrap(),
        Metadata::from_json_text(format!(r#"{{"n":{n}}}"#)).unwrap(),
        at(i64::try_from(n).unwrap() * 1_000 + 7),
    )
}

fn admit(org: &Organization, user: &User, roles: Vec<RoleId>, n: u64) -> Membership {
    Membership::admit(
        MembershipId::from_ulid(ulid(n)),
        org.environment_id,
        org.id,
        user.id(),
        roles,
        at(i64::try_from(n).unwrap() * 1_000 + 42),
    )
    .unwrap()
}

fn query(organization: Option<OrganizationId>, user: Option<UserId>) -> MembershipQuery {
    MembershipQuery {
        organization,
        user,
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Organizations round trip with their member count, in one read and on
    /// a page; updates keep the row; other environments see nothing.
    async fn organizations_round_trip_with_member_counts(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (o1, o2) = (organization(&env, 1, "Acme"), organization(&env, 2, "Globex"));
        let (u1, u2) = (user(&env, 3, "u1@example.com"), user(&env, 4, "u2@example.com"));
        let members = [admit(&o1, &u1, vec![], 10), admit(&o1, &u2, vec![], 11)];
        let (orgs, users) = (vec![o1.clone(), o2.clone()], vec![u1.clone(), u2.clone()]);
        store
            .transaction(move |tx| {
                orgs.iter().try_for_each(|o| tx.insert_organization(o))?;
                users.iter().try_for_each(|u| tx.insert_user(u))?;
                members.iter().try_for_each(|m| tx.insert_membership(m))
            })
            .await
            .unwrap();
        let (env_id, other_id, o1_id) = (env.id, other.id, o1.id);
        let found = store.read(move |tx| tx.find_organization(env_id, o1_id)).await.unwrap().unwrap();
        assert_eq!(found.organization, o1);
        assert_eq!(found.member_count, 2);
        assert_eq!(store.read(move |tx| tx.find_organization(other_id, o1_id)).await.unwrap(), None);
        let page = Keyset { limit: 10, descending: true, after: None };
        let listed = store.read(move |tx| tx.list_organizations(env_id, &page)).await.unwrap();
        assert_eq!(
            listed.iter().map(|c| (c.organization.id, c.member_count)).collect::<Vec<_>>(),
            [(o2.id, 0), (o1.id, 2)]
        );
        let page = Keyset { limit: 1, descending: false, after: Some(o1.id.to_string()) };
        let after = store.read(move |tx| tx.list_organizations(env_id, &page)).await.unwrap();
        assert_eq!(after.iter().map(|c| c.organization.id).collect::<Vec<_>>(), [o2.id]);

        let mut renamed = o2.clone();
        renamed.name = OrganizationName::parse("Initech").unwrap();
        renamed.metadata = Metadata::empty();
        renamed.updated_at = at(99_000);
        let stored = renamed.clone();
        store.transaction(move |tx| tx.update_organization(&stored)).await.unwrap();
        let o2_id = o2.id;
        let found = store.read(move |tx| tx.find_organization(env_id, o2_id)).await.unwrap().unwrap();
        assert_eq!(found.organization, renamed);
        let mut elsewhere = renamed.clone();
        elsewhere.environment_id = other_id;
        let missing = store.transaction(move |tx| tx.update_organization(&elsewhere)).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{missing:?}");

        // Deleting an organization deletes its memberships.
        assert!(!store.transaction(move |tx| tx.delete_organization(other_id, o1_id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_organization(env_id, o1_id)).await.unwrap());
        assert_eq!(count(db, "memberships"), 0);
        assert_eq!(count(db, "organizations"), 1);
    }
}

on_both_backends! {
    /// Memberships keep their roles in order, a pair is unique, filters and
    /// pages work, roles are replaced, and deleting a user, a role or an
    /// environment cascades.
    async fn memberships_round_trip_filter_replace_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (o1, o2) = (organization(&env, 1, "Acme"), organization(&env, 2, "Globex"));
        let (u1, u2) = (user(&env, 3, "u1@example.com"), user(&env, 4, "u2@example.com"));
        let (r1, r2, r3) = (role(&env, 5, "r1"), role(&env, 6, "r2"), role(&env, 7, "r3"));
        let members = vec![
            admit(&o1, &u1, vec![r2.id, r1.id], 10),
            admit(&o1, &u2, vec![], 11),
            admit(&o2, &u1, vec![r3.id], 12),
        ];
        let (orgs, users, roles) = (
            vec![o1.clone(), o2.clone()],
            vec![u1.clone(), u2.clone()],
            vec![r1.clone(), r2.clone(), r3.clone()],
        );
        let stored = members.clone();
        store
            .transaction(move |tx| {
                orgs.iter().try_for_each(|o| tx.insert_organization(o))?;
                users.iter().try_for_each(|u| tx.insert_user(u))?;
                roles.iter().try_for_each(|r| tx.insert_role(r))?;
                stored.iter().try_for_each(|m| tx.insert_membership(m))
            })
            .await
            .unwrap();
        let (env_id, other_id) = (env.id, other.id);
        let first = members[0].clone();
        let id = first.id;
        assert_eq!(store.read(move |tx| tx.find_membership(env_id, id)).await.unwrap(), Some(first.clone()));
        assert_eq!(store.read(move |tx| tx.find_membership(other_id, id)).await.unwrap(), None);

        // The same pair again is a conflict (with or without roles), and the
        // transaction goes on.
        let (dup, next) = (admit(&o1, &u1, vec![r3.id], 13), admit(&o2, &u2, vec![r1.id], 14));
        let conflict = store
            .transaction(move |tx| {
                let conflict = tx.insert_membership(&dup).unwrap_err();
                tx.insert_membership(&next)?;
                Ok::<_, StoreError>(conflict)
            })
            .await
            .unwrap();
        assert!(matches!(conflict, StoreError::Conflict(Unique::Membership)), "{conflict:?}");
        assert_eq!(count(db, "membership_roles"), 4);

        let ids = |ms: Vec<Membership>| ms.iter().map(|m| m.id).collect::<Vec<_>>();
        let list = |q: MembershipQuery| {
            let store = store.clone();
            async move { store.read(move |tx| tx.list_memberships(env_id, &q)).await.unwrap() }
        };
        let all = list(query(None, None)).await;
        assert_eq!(all.len(), 4);
        assert_eq!(all[0], members[0], "roles come with a page, in order");
        assert_eq!(ids(list(query(Some(o1.id), None)).await), [members[0].id, members[1].id]);
        assert_eq!(ids(list(query(None, Some(u1.id()))).await), [members[0].id, members[2].id]);
        assert_eq!(ids(list(query(Some(o2.id), Some(u1.id()))).await), [members[2].id]);
        let mut paged = query(None, None);
        paged.page = Keyset { limit: 2, descending: true, after: Some(all[2].id.to_string()) };
        assert_eq!(ids(list(paged).await), [all[1].id, all[0].id]);
        let elsewhere = store
            .read(move |tx| tx.list_memberships(other_id, &query(None, None)))
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        // Replacing roles.
        let mut changed = first.clone();
        changed.replace_roles(vec![r3.id, r2.id, r1.id], at(50_000)).unwrap();
        let stored = changed.clone();
        store.transaction(move |tx| tx.replace_membership_roles(&stored)).await.unwrap();
        assert_eq!(store.read(move |tx| tx.find_membership(env_id, id)).await.unwrap(), Some(changed.clone()));
        let mut elsewhere = changed.clone();
        elsewhere.environment_id = other_id;
        let missing = store.transaction(move |tx| tx.replace_membership_roles(&elsewhere)).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{missing:?}");

        // Cascades: a role leaves the memberships holding it, a user takes
        // its memberships, a membership takes its roles.
        let r2_id = r2.id;
        assert!(store.transaction(move |tx| tx.delete_role(env_id, r2_id)).await.unwrap());
        let after = store.read(move |tx| tx.find_membership(env_id, id)).await.unwrap().unwrap();
        assert_eq!(after.role_ids, vec![r3.id, r1.id]);
        let u2_id = u2.id();
        assert!(store.transaction(move |tx| tx.delete_user(env_id, u2_id)).await.unwrap());
        assert_eq!(count(db, "memberships"), 2);
        assert!(!store.transaction(move |tx| tx.delete_membership(other_id, id)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_membership(env_id, id)).await.unwrap());
        assert_eq!(count(db, "memberships"), 1);
        assert_eq!(count(db, "membership_roles"), 1);
        // A membership whose role was deleted meanwhile is refused by the
        // foreign key, as a missing reference.
        let orphan = admit(&o1, &u1, vec![r2.id], 15);
        let refused = store.transaction(move |tx| tx.insert_membership(&orphan)).await.unwrap_err();
        assert!(matches!(refused, StoreError::MissingReference), "{refused:?}");
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "memberships"), 0);
        assert_eq!(count(db, "membership_roles"), 0);
        assert_eq!(count(db, "organizations"), 0);
    }
}
