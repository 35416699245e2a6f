//! Sessions: round trips, tenant scoping, touch and revoke updates, the
//! `user` and `active` filters (evaluated at the query's now), keyset pages,
//! revocation of a user's sessions and the cascade from users.

use portcullis_domain::session::{IpAddress, NewSession, Session, UserAgent};
use portcullis_domain::user::User;
use portcullis_domain::{SessionId, Timestamp, UserId};
use portcullis_ports::store::{Keyset, SessionQuery, StoreError, UnitOfWork};

use crate::support::{at, count, execute, insert_environment, on_both_backends, ulid, user};

/// A session of `user` opened at `at(n)` and expiring at `at(expires)`.
fn open(user: &User, n: u64, expires: i64) -> Session {
    Session::open(
        SessionId::from_ulid(ulid(n)),
        user.environment_id(),
        NewSession {
            user_id: user.id(),
            ip_address: Some(IpAddress::parse("2001:db8::1").unwrap()),
            user_agent: Some(UserAgent::parse("curl/8.5").unwrap()),
            expires_at: at(expires),
        },
        at(i64::try_from(n).unwrap()),
    )
}

fn query(user: Option<UserId>, active: Option<bool>, now: Timestamp) -> SessionQuery {
    SessionQuery {
        user,
        active,
        now,
        page: Keyset {
            limit: 10,
            descending: false,
            after: None,
        },
    }
}

on_both_backends! {
    /// Sessions round trip, are scoped to their environment, store touches
    /// and revocations, filter by user and by activity at the query's now,
    /// page by id, are revoked together for a user, and die with the user.
    async fn sessions_round_trip_filter_revoke_and_cascade(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let (u1, u2) = (user(&env, 1, "u1@example.com"), user(&env, 2, "u2@example.com"));
        // s10 expires at 1000, s11 and s12 at 5000.
        let all = vec![open(&u1, 10, 1_000), open(&u1, 11, 5_000), open(&u2, 12, 5_000)];
        let users = [u1.clone(), u2.clone()];
        let stored = all.clone();
        store
            .transaction(move |tx| {
                users.iter().try_for_each(|u| tx.insert_user(u))?;
                stored.iter().try_for_each(|s| tx.insert_session(s))
            })
            .await
            .unwrap();
        let (env_id, other_id) = (env.id, other.id);
        let first = all[0].clone();
        let id = first.id;
        assert_eq!(store.read(move |tx| tx.find_session(env_id, id)).await.unwrap(), Some(first.clone()));
        assert_eq!(store.read(move |tx| tx.find_session(other_id, id)).await.unwrap(), None);

        // Touch and revoke are stored.
        let mut touched = all[1].clone();
        touched.touch(at(100)).unwrap();
        touched.revoke(at(200));
        let written = touched.clone();
        store.transaction(move |tx| tx.update_session(&written)).await.unwrap();
        let id1 = touched.id;
        assert_eq!(store.read(move |tx| tx.find_session(env_id, id1)).await.unwrap(), Some(touched.clone()));
        let mut elsewhere = touched.clone();
        elsewhere.environment_id = other_id;
        let missing = store.transaction(move |tx| tx.update_session(&elsewhere)).await.unwrap_err();
        assert!(matches!(missing, StoreError::NotFound), "{missing:?}");

        let ids = |ss: Vec<Session>| ss.iter().map(|s| s.id).collect::<Vec<_>>();
        let list = |q: SessionQuery| {
            let store = store.clone();
            async move { store.read(move |tx| tx.list_sessions(env_id, &q)).await.unwrap() }
        };
        let (s10, s11, s12) = (all[0].id, all[1].id, all[2].id);
        assert_eq!(ids(list(query(None, None, at(0))).await), [s10, s11, s12]);
        assert_eq!(ids(list(query(Some(u1.id()), None, at(0))).await), [s10, s11]);
        // Before s10 expires: s10 and s12 active (s11 revoked).
        assert_eq!(ids(list(query(None, Some(true), at(999))).await), [s10, s12]);
        assert_eq!(ids(list(query(None, Some(false), at(999))).await), [s11]);
        // At its expiry s10 is no longer active.
        assert_eq!(ids(list(query(None, Some(true), at(1_000))).await), [s12]);
        assert_eq!(ids(list(query(None, Some(false), at(1_000))).await), [s10, s11]);
        assert_eq!(ids(list(query(Some(u1.id()), Some(true), at(1_000))).await), Vec::<SessionId>::new());
        let mut paged = query(None, None, at(0));
        paged.page = Keyset { limit: 1, descending: true, after: Some(s12.to_string()) };
        assert_eq!(ids(list(paged).await), [s11]);
        let elsewhere = store.read(move |tx| tx.list_sessions(other_id, &query(None, None, at(0)))).await.unwrap();
        assert!(elsewhere.is_empty());

        // Revoking a user's sessions takes the unrevoked ones (expired
        // included), leaves the revoked one as it was, and not other users'.
        let u1_id = u1.id();
        let revoked = store
            .transaction(move |tx| tx.revoke_sessions_of_user(env_id, u1_id, at(3_000)))
            .await
            .unwrap();
        assert_eq!(ids(revoked.clone()), [s10]);
        assert_eq!(revoked[0].revoked_at, Some(at(3_000)));
        assert_eq!(store.read(move |tx| tx.find_session(env_id, s10)).await.unwrap(), Some(revoked[0].clone()));
        assert_eq!(store.read(move |tx| tx.find_session(env_id, s11)).await.unwrap().unwrap().revoked_at, Some(at(200)));
        assert_eq!(store.read(move |tx| tx.find_session(env_id, s12)).await.unwrap().unwrap().revoked_at, None);
        let none = store
            .transaction(move |tx| tx.revoke_sessions_of_user(other_id, u1_id, at(3_000)))
            .await
            .unwrap();
        assert!(none.is_empty());

        assert!(!store.transaction(move |tx| tx.delete_session(other_id, s12)).await.unwrap());
        assert!(store.transaction(move |tx| tx.delete_session(env_id, s12)).await.unwrap());
        assert_eq!(count(db, "sessions"), 2);

        // Deleting a user deletes its sessions; a session of a deleted user
        // is a missing reference.
        assert!(store.transaction(move |tx| tx.delete_user(env_id, u1_id)).await.unwrap());
        assert_eq!(count(db, "sessions"), 0);
        let orphan = open(&u1, 13, 5_000);
        let refused = store.transaction(move |tx| tx.insert_session(&orphan)).await.unwrap_err();
        assert!(matches!(refused, StoreError::MissingReference), "{refused:?}");
        let kept = open(&u2, 14, 5_000);
        store.transaction(move |tx| tx.insert_session(&kept)).await.unwrap();
        execute(db, &format!("DELETE FROM environments WHERE id = '{env_id}'"));
        assert_eq!(count(db, "sessions"), 0);
    }
}
