//! Invitations: round trips with roles in order, tenant scoping, status
//! transitions, filters, the accepting user's `SET NULL`, cascades, the
//! row lock that serialises answers, and users found by e-mail.

use portcullis_domain::invitation::{Invitation, InvitationStatus, NewInvitation};
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::organization::{Organization, OrganizationName};
use portcullis_domain::user::{Email, Metadata};
use portcullis_domain::{InvitationId, OrganizationId, RoleId};
use portcullis_ports::store::{InvitationQuery, Keyset, StoreError, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, role, ulid, user};

fn organization(env: &portcullis_domain::environment::Environment, n: u64) -> Organization {
    Organization::found(
        OrganizationId::from_ulid(ulid(n)),
        env.id,
        OrganizationName::parse("Acme").unwrap(),
        Metadata::empty(),
        at(1_000),
    )
}

fn invitation(org: &Organization, n: u64, email: &str, roles: Vec<RoleId>) -> Invitation {
    Invitation::issue(
        InvitationId::from_ulid(ulid(n)),
        org.environment_id,
        NewInvitation {
            organization_id: org.id,
            email: Email::parse(email).unwrap(),
            role_ids: roles,
            token_digest: SecretDigest::new(format!("{n:064}")),
            expires_at: at(9_000_000),
        },
        at(i64::try_from(n).unwrap() * 1_000),
    )
    .unwrap()
}

fn query(status: Option<InvitationStatus>, email: Option<&str>) -> InvitationQuery {
    InvitationQuery {
        organization: None,
        status,
        email: email.map(|e| Email::parse(e).unwrap()),
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Invitations keep their roles in order and every field; transitions are
    /// stored; filters and tenant scoping hold; deleting the accepting user
    /// keeps the invitation without its user; deleting a role drops it from
    /// the list; deleting the organization deletes its invitations.
    async fn invitations_round_trip_transition_filter_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let org = organization(&env, 1);
        let ann = user(&env, 2, "ann@example.com");
        let (r1, r2) = (role(&env, 3, "r1"), role(&env, 4, "r2"));
        let first = invitation(&org, 10, "Ann@Example.com", vec![r2.id, r1.id]);
        let second = invitation(&org, 11, "bob@example.com", vec![]);
        let (o, u, roles, invitations) = (
            org.clone(),
            ann.clone(),
            vec![r1.clone(), r2.clone()],
            vec![first.clone(), second.clone()],
        );
        store
            .transaction(move |tx| {
                tx.insert_organization(&o)?;
                tx.insert_user(&u)?;
                roles.iter().try_for_each(|r| tx.insert_role(r))?;
                invitations.iter().try_for_each(|i| tx.insert_invitation(i))
            })
            .await
            .unwrap();
        let (env_id, other_id, id) = (env.id, other.id, first.id);
        assert_eq!(store.read(move |tx| tx.find_invitation(env_id, id)).await.unwrap(), Some(first.clone()));
        assert_eq!(store.read(move |tx| tx.find_invitation(other_id, id)).await.unwrap(), None);
        let email = Email::parse("ANN@example.com").unwrap();
        let found = store.read(move |tx| tx.find_user_by_email(env_id, &email)).await.unwrap();
        assert_eq!(found.map(|u| u.id()), Some(ann.id()));
        let email = Email::parse("ann@example.com").unwrap();
        assert_eq!(store.read(move |tx| tx.find_user_by_email(other_id, &email)).await.unwrap(), None);

        let mut accepted = first.clone();
        accepted.accept(ann.id(), at(5_000_000)).unwrap();
        let stored = accepted.clone();
        store.transaction(move |tx| tx.update_invitation_status(&stored)).await.unwrap();
        assert_eq!(store.read(move |tx| tx.find_invitation(env_id, id)).await.unwrap(), Some(accepted.clone()));
        let mut ghost = second.clone();
        ghost.id = InvitationId::from_ulid(ulid(99));
        let err = store.transaction(move |tx| tx.update_invitation_status(&ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        let listed = |q: InvitationQuery| {
            let store = store.clone();
            async move {
                store.read(move |tx| tx.list_invitations(env_id, &q)).await.unwrap()
                    .into_iter().map(|i| i.id).collect::<Vec<_>>()
            }
        };
        assert_eq!(listed(query(None, None)).await, [first.id, second.id]);
        assert_eq!(listed(query(Some(InvitationStatus::Accepted), None)).await, [first.id]);
        assert_eq!(listed(query(Some(InvitationStatus::Pending), None)).await, [second.id]);
        assert_eq!(listed(query(None, Some("bob@example.com"))).await, [second.id]);
        let mut page = query(None, None);
        page.page = Keyset { limit: 1, descending: true, after: Some(second.id.to_string()) };
        assert_eq!(listed(page).await, [first.id]);

        execute(db, &format!("DELETE FROM users WHERE id = '{}'", ann.id()));
        execute(db, &format!("DELETE FROM roles WHERE id = '{}'", r2.id));
        let kept = store.read(move |tx| tx.find_invitation(env_id, id)).await.unwrap().unwrap();
        assert_eq!(kept.status, InvitationStatus::Accepted);
        assert_eq!(kept.user_id, None);
        assert_eq!(kept.role_ids, [r1.id]);

        let org_id = org.id;
        assert!(store.transaction(move |tx| tx.delete_organization(env_id, org_id)).await.unwrap());
        assert_eq!(count(db, "invitations"), 0);
        assert_eq!(count(db, "invitation_roles"), 0);
    }
}

on_both_backends! {
    /// An invitation into a deleted organization, or with a deleted role, is
    /// a missing reference; a status the domain does not know is refused by
    /// the table.
    async fn invitations_refuse_missing_references_and_unknown_statuses(db, store) {
        let env = insert_environment(&store, "default").await;
        let org = organization(&env, 1);
        let ghost_role = role(&env, 2, "ghost");
        let orphan = invitation(&org, 10, "ann@example.com", vec![]);
        let err = store.transaction(move |tx| tx.insert_invitation(&orphan)).await.unwrap_err();
        assert!(matches!(err, StoreError::MissingReference), "{err:?}");
        let o = org.clone();
        store.transaction(move |tx| tx.insert_organization(&o)).await.unwrap();
        let with_ghost = invitation(&org, 11, "ann@example.com", vec![ghost_role.id]);
        let err = store.transaction(move |tx| tx.insert_invitation(&with_ghost)).await.unwrap_err();
        assert!(matches!(err, StoreError::MissingReference), "{err:?}");
        assert_eq!(count(db, "invitations"), 0, "the savepoint undid the row");
        let good = invitation(&org, 12, "ann@example.com", vec![]);
        store.transaction(move |tx| tx.insert_invitation(&good)).await.unwrap();
        let refused = std::panic::catch_unwind(|| {
            execute(db, "UPDATE invitations SET status = 'expired'");
        });
        assert!(refused.is_err(), "the check constraint refused an unknown status");
    }
}

on_both_backends! {
    /// A locked read of an invitation while another transaction is settling
    /// it waits for that transaction and sees its outcome: two accepts of
    /// one invitation run one after the other.
    async fn a_locked_invitation_read_waits_for_an_open_transition(_db, store) {
        let env = insert_environment(&store, "default").await;
        let org = organization(&env, 1);
        let pending = invitation(&org, 10, "ann@example.com", vec![]);
        let (o, stored) = (org.clone(), pending.clone());
        store
            .transaction(move |tx| {
                tx.insert_organization(&o)?;
                tx.insert_invitation(&stored)
            })
            .await
            .unwrap();
        let (env_id, id) = (env.id, pending.id);
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let first = store.clone();
        let settle = tokio::spawn(async move {
            first
                .transaction(move |tx| {
                    let mut invitation = tx.lock_invitation(env_id, id)?.unwrap();
                    locked_tx.send(()).unwrap();
                    // Hold the row lock a while before committing.
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    invitation.decline(at(5_000_000)).unwrap();
                    tx.update_invitation_status(&invitation)
                })
                .await
        });
        tokio::task::spawn_blocking(move || locked_rx.recv().unwrap()).await.unwrap();
        let seen = store.transaction(move |tx| tx.lock_invitation(env_id, id)).await.unwrap().unwrap();
        settle.await.unwrap().unwrap();
        assert_eq!(seen.status, InvitationStatus::Declined, "the locked read saw the committed answer");
    }
}
