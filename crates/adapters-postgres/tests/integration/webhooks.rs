//! Webhooks and their outbox: round trips with ordered subscriptions,
//! environment scoping, the fan-out `append_event` does in the event's own
//! transaction (active, subscribed, same environment only; rolled back with
//! it), the lease-based claim, the guarded record, and on PostgreSQL two
//! concurrent claims that never take the same delivery.

use std::collections::BTreeSet;

use portcullis_adapters_postgres::DieselStore;
use portcullis_domain::environment::Environment;
use portcullis_domain::event::{AuditEvent, SYSTEM_ACTOR};
use portcullis_domain::webhook::{
    DeliveryAttempt, DeliveryOutcome, EncryptedSigningSecret, Webhook, WebhookChanges, WebhookName,
    WebhookUrl,
};
use portcullis_domain::{DeliveryAttemptId, EventId, Timestamp, WebhookId};
use portcullis_ports::store::{ClaimLimits, ClaimedDelivery, Keyset, StoreError, UnitOfWork};

use crate::support::{at, count, insert_environment, on_both_backends, texts, ulid};

fn webhook(env: &Environment, n: u64, events: &[&str], active: bool) -> Webhook {
    Webhook::create(
        WebhookId::from_ulid(ulid(n)),
        env.id,
        WebhookName::parse(&format!("hook {n}")).unwrap(),
        WebhookUrl::parse(&format!("https://hooks.example.com/{n}"), false).unwrap(),
        events.iter().map(|e| (*e).to_owned()).collect(),
        active,
        EncryptedSigningSecret::new(vec![9, 0, 255, u8::try_from(n).unwrap()]),
        at(i64::try_from(n).unwrap() * 1_000),
    )
}

fn event(env: &Environment, n: u64, event_type: &str) -> AuditEvent {
    AuditEvent {
        id: EventId::from_ulid(ulid(n)),
        environment_id: env.id,
        event_type: event_type.into(),
        actor: SYSTEM_ACTOR.into(),
        resource_type: "user".into(),
        resource_id: "x".into(),
        data: format!(r#"{{"type":"user","id":"{n}"}}"#),
        occurred_at: at(i64::try_from(n).unwrap() * 10_000),
    }
}

async fn insert(store: &DieselStore, webhooks: Vec<Webhook>) {
    store
        .transaction(move |tx| webhooks.iter().try_for_each(|w| tx.insert_webhook(w)))
        .await
        .unwrap();
}

async fn append(store: &DieselStore, events: Vec<AuditEvent>) {
    store
        .transaction(move |tx| events.iter().try_for_each(|e| tx.append_event(e)))
        .await
        .unwrap();
}

async fn claim(
    store: &DieselStore,
    now: Timestamp,
    lease: Timestamp,
    limit: u32,
) -> Vec<ClaimedDelivery> {
    store
        .transaction(move |tx| tx.claim_deliveries(now, lease, &ClaimLimits::only_total(limit)))
        .await
        .unwrap()
}

async fn claim_within(
    store: &DieselStore,
    now: Timestamp,
    lease: Timestamp,
    limits: ClaimLimits,
) -> Vec<ClaimedDelivery> {
    store
        .transaction(move |tx| tx.claim_deliveries(now, lease, &limits))
        .await
        .unwrap()
}

/// `(webhook n, event n)` of each claimed delivery, sorted.
fn taken(claimed: &[ClaimedDelivery]) -> Vec<(u64, u64)> {
    let mut pairs: Vec<(u64, u64)> = claimed
        .iter()
        .map(|d| {
            let n = |u: ulid::Ulid| (0..1000u64).find(|n| ulid(*n) == u).unwrap();
            (n(d.webhook_id.as_ulid()), n(d.event_id.as_ulid()))
        })
        .collect();
    pairs.sort_unstable();
    pairs
}

fn attempt(delivery: &ClaimedDelivery, n: u64, outcome: DeliveryOutcome) -> DeliveryAttempt {
    DeliveryAttempt {
        id: DeliveryAttemptId::from_ulid(ulid(n)),
        webhook_id: delivery.webhook_id,
        event_id: delivery.event_id,
        attempt: delivery.attempt,
        status_code: (outcome == DeliveryOutcome::Succeeded).then_some(204),
        duration_ms: 7,
        error: (outcome != DeliveryOutcome::Succeeded).then(|| "down".to_owned()),
        outcome,
        attempted_at: at(900_000),
    }
}

on_both_backends! {
    /// Every field and the subscription order survive insert, update and
    /// delete, in the webhook's environment only.
    async fn webhooks_round_trip_with_ordered_subscriptions(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        let original = webhook(&env, 1, &["user.deleted", "role.created", "user.created"], true);
        insert(&store, vec![original.clone(), webhook(&env, 2, &["user.created"], false)]).await;
        let (env_id, other_id, id) = (env.id, other.id, original.id);
        let found = store.read(move |tx| tx.find_webhook(env_id, id)).await.unwrap();
        assert_eq!(found.as_ref(), Some(&original));
        assert_eq!(store.read(move |tx| tx.find_webhook(other_id, id)).await.unwrap(), None);

        let mut changed = original.clone();
        changed.apply(
            WebhookChanges {
                events: Some(vec!["role.deleted".into(), "user.created".into()]),
                active: Some(false),
                signing_secret: Some(EncryptedSigningSecret::new(vec![1, 2, 3])),
                ..WebhookChanges::default()
            },
            at(50_000),
        );
        let stored = changed.clone();
        store.transaction(move |tx| tx.update_webhook(&stored)).await.unwrap();
        let found = store.read(move |tx| tx.find_webhook(env_id, id)).await.unwrap();
        assert_eq!(found, Some(changed));
        assert_eq!(count(db, "webhook_events"), 3);

        let page = Keyset { limit: 10, descending: true, after: None };
        let listed = store.read(move |tx| tx.list_webhooks(env_id, &page)).await.unwrap();
        assert_eq!(listed.iter().map(|w| w.id).collect::<Vec<_>>(), [WebhookId::from_ulid(ulid(2)), id]);

        let mut ghost = webhook(&env, 3, &["user.created"], true);
        ghost.environment_id = other.id;
        let missing = store.transaction(move |tx| tx.update_webhook(&ghost)).await;
        assert!(matches!(missing, Err(StoreError::NotFound)));
        assert!(store.transaction(move |tx| tx.delete_webhook(env_id, id)).await.unwrap());
        assert!(!store.transaction(move |tx| tx.delete_webhook(env_id, id)).await.unwrap());
        assert_eq!(count(db, "webhook_events"), 1, "subscriptions go with their webhook");
    }
}

on_both_backends! {
    /// `append_event` queues one delivery per active webhook of the event's
    /// environment subscribed to its type, and a rolled-back transaction
    /// queues nothing.
    async fn append_event_queues_deliveries_in_the_same_transaction(db, store) {
        let env = insert_environment(&store, "default").await;
        let other = insert_environment(&store, "other").await;
        insert(&store, vec![
            webhook(&env, 1, &["user.created"], true),
            webhook(&env, 2, &["user.created", "user.deleted"], true),
            webhook(&env, 3, &["user.created"], false),
            webhook(&env, 4, &["role.created"], true),
            webhook(&other, 5, &["user.created"], true),
        ]).await;
        append(&store, vec![event(&env, 10, "user.created"), event(&env, 11, "user.deleted")]).await;
        let queued = texts(db, "SELECT webhook_id || ':' || event_id AS v FROM webhook_deliveries ORDER BY event_id, webhook_id");
        let key = |w: u64, e: u64| format!("{}:{}", ulid(w), ulid(e));
        assert_eq!(queued, [key(1, 10), key(2, 10), key(2, 11)]);

        let rolled_back = event(&env, 12, "user.created");
        let outcome = store
            .transaction(move |tx| {
                tx.append_event(&rolled_back)?;
                Err::<(), _>(StoreError::NotFound)
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(count(db, "webhook_deliveries"), 3);
    }
}

on_both_backends! {
    /// A claim takes due deliveries oldest first up to the limit, with what
    /// the worker needs, and leases them: a second claim before the lease
    /// ends finds nothing; a recorded retry is due again at its time; a
    /// stale record (attempt taken over) changes nothing.
    async fn claims_lease_deliveries_and_records_move_them_on(db, store) {
        let env = insert_environment(&store, "default").await;
        insert(&store, vec![webhook(&env, 1, &["user.created"], true)]).await;
        append(&store, (10..13).map(|n| event(&env, n, "user.created")).collect()).await;
        let now = at(1_000_000);
        let lease = at(2_000_000);
        let first = claim(&store, now, lease, 2).await;
        assert_eq!(first.iter().map(|d| d.event_id).collect::<Vec<_>>(),
            [EventId::from_ulid(ulid(10)), EventId::from_ulid(ulid(11))]);
        let one = &first[0];
        assert_eq!(one.attempt, 1);
        assert_eq!(one.url, "https://hooks.example.com/1");
        assert_eq!(one.signing_secret.as_bytes(), &[9, 0, 255, 1]);
        assert_eq!(one.event_type, "user.created");
        assert_eq!(one.occurred_at, at(100_000));
        assert_eq!(one.queued_at, at(100_000));
        let second = claim(&store, now, lease, 10).await;
        assert_eq!(second.len(), 1, "the leased two are not due");
        assert!(claim(&store, now, lease, 10).await.is_empty());

        let retry_at = at(1_500_000);
        let failed = attempt(one, 40, DeliveryOutcome::Retrying);
        store.transaction(move |tx| tx.record_delivery_attempt(&failed, Some(retry_at))).await.unwrap();
        let succeeded = attempt(&first[1], 41, DeliveryOutcome::Succeeded);
        store.transaction(move |tx| tx.record_delivery_attempt(&succeeded, None)).await.unwrap();
        // The same attempt again (a worker whose lease ran out): ignored.
        let stale = attempt(one, 42, DeliveryOutcome::Retrying);
        store.transaction(move |tx| tx.record_delivery_attempt(&stale, Some(retry_at))).await.unwrap();
        assert_eq!(count(db, "webhook_delivery_attempts"), 2);

        assert!(claim(&store, at(1_400_000), lease, 10).await.is_empty());
        let again = claim(&store, retry_at, at(3_000_000), 10).await;
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
        let last = attempt(&again[0], 43, DeliveryOutcome::Failed);
        store.transaction(move |tx| tx.record_delivery_attempt(&last, None)).await.unwrap();
        // Later, only the delivery whose lease ran out (claimed, never
        // recorded: a dead worker) is due again; failed and succeeded are final.
        let expired = claim(&store, at(9_000_000), at(9_900_000), 10).await;
        assert_eq!(
            expired.iter().map(|d| (d.event_id, d.attempt)).collect::<Vec<_>>(),
            [(EventId::from_ulid(ulid(12)), 1)]
        );
        assert_eq!(
            texts(db, "SELECT status AS v FROM webhook_deliveries ORDER BY event_id"),
            ["failed", "succeeded", "pending"]
        );

        let webhook_id = WebhookId::from_ulid(ulid(1));
        let page = Keyset { limit: 10, descending: false, after: None };
        let listed = store.read(move |tx| tx.list_delivery_attempts(webhook_id, &page)).await.unwrap();
        assert_eq!(
            listed.iter().map(|a| (a.attempt, a.outcome)).collect::<Vec<_>>(),
            [(1, DeliveryOutcome::Retrying), (1, DeliveryOutcome::Succeeded), (2, DeliveryOutcome::Failed)]
        );
        assert_eq!(listed[0].error.as_deref(), Some("down"));
        assert_eq!(listed[1].status_code, Some(204));
    }
}

on_both_backends! {
    /// Issue 14: one webhook with a backlog (a slow receiver) takes no more
    /// than its room, one environment no more than its own, counting what
    /// the worker has in flight; the other webhooks and environments get
    /// their turns in the same claim; each claimed delivery names its
    /// environment.
    async fn a_claim_bounds_each_webhook_and_environment_and_shares_the_rest(db, store) {
        let env = insert_environment(&store, "default").await;
        let staging = insert_environment(&store, "staging").await;
        insert(&store, vec![
            webhook(&env, 1, &["user.created"], true),
            webhook(&env, 2, &["role.created"], true),
            webhook(&staging, 3, &["user.created"], true),
        ]).await;
        // 40 for webhook 1, the oldest; then one each for webhooks 2 and 3.
        append(&store, (100..140).map(|n| event(&env, n, "user.created")).collect()).await;
        append(&store, vec![event(&env, 200, "role.created"), event(&staging, 300, "user.created")]).await;
        let (now, lease) = (at(9_000_000), at(99_000_000));

        let bounded = ClaimLimits { total: 16, per_webhook: 4, per_environment: 4, ..ClaimLimits::default() };
        let first = claim_within(&store, now, lease, bounded).await;
        assert_eq!(
            taken(&first),
            [(1, 100), (1, 101), (1, 102), (2, 200), (3, 300)],
            "webhook 1 stops at its environment's 4 (with webhook 2's one), staging is served"
        );
        for delivery in &first {
            let expected = if delivery.webhook_id == WebhookId::from_ulid(ulid(3)) { staging.id } else { env.id };
            assert_eq!(delivery.environment_id, expected);
        }

        // In flight now: 3 of webhook 1, 4 of the default environment.
        let mut busy = ClaimLimits { total: 11, per_webhook: 4, per_environment: 4, ..ClaimLimits::default() };
        busy.in_flight_webhooks.insert(WebhookId::from_ulid(ulid(1)), 3);
        busy.in_flight_environments.insert(env.id, 4);
        assert!(claim_within(&store, now, lease, busy.clone()).await.is_empty(), "the environment is full");
        busy.per_environment = 6;
        assert_eq!(taken(&claim_within(&store, now, lease, busy).await), [(1, 103)], "webhook 1 has room for one");

        // Turns: with two free slots and two webhooks waiting, one each.
        append(&store, vec![event(&staging, 301, "user.created")]).await;
        let two = ClaimLimits { total: 2, per_webhook: 4, per_environment: 8, ..ClaimLimits::default() };
        assert_eq!(taken(&claim_within(&store, now, lease, two).await), [(1, 104), (3, 301)]);

        let rest = claim(&store, now, lease, 100).await;
        assert_eq!(rest.len(), 35, "without bounds, the rest of the backlog");
        assert_eq!(count(db, "webhook_deliveries"), 43);
    }
}

/// On PostgreSQL, claims running at the same time split the due deliveries
/// between them: none is taken twice (`FOR UPDATE SKIP LOCKED` + lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_never_take_the_same_delivery() {
    let db = portcullis_adapters_postgres::testing::TestDatabase::postgres();
    let store = db.store();
    let env = insert_environment(&store, "default").await;
    insert(&store, vec![webhook(&env, 1, &["user.created"], true)]).await;
    append(
        &store,
        (100..300).map(|n| event(&env, n, "user.created")).collect(),
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let batch = claim(&store, at(90_000_000), at(99_000_000), 7).await;
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch.into_iter().map(|d| d.event_id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "every delivery claimed");
    assert_eq!(distinct.len(), 200, "none claimed twice");
}

on_both_backends! {
    /// Retention: old events go with their settled deliveries, in batches;
    /// an event with a pending delivery, or a recent one, stays; old
    /// delivery attempts go.
    async fn old_events_without_pending_deliveries_and_old_attempts_are_purged(db, store) {
        let env = insert_environment(&store, "default").await;
        insert(&store, vec![webhook(&env, 9, &["user.created"], true)]).await;
        append(
            &store,
            vec![
                event(&env, 1, "role.created"),
                event(&env, 2, "user.created"),
                event(&env, 3, "user.created"),
                event(&env, 5, "role.created"),
            ],
        )
        .await;
        let claimed = claim(&store, at(100_000), at(200_000), 10).await;
        assert_eq!(claimed.len(), 2);
        let settled = claimed
            .iter()
            .find(|d| d.event_id == EventId::from_ulid(ulid(2)))
            .unwrap();
        let done = attempt(settled, 40, DeliveryOutcome::Succeeded);
        store.transaction(move |tx| tx.record_delivery_attempt(&done, None)).await.unwrap();

        let cut = at(40_000);
        assert_eq!(store.transaction(move |tx| tx.purge_events(cut, 1)).await.unwrap(), 1);
        assert_eq!(store.transaction(move |tx| tx.purge_events(cut, 10)).await.unwrap(), 1);
        assert_eq!(store.transaction(move |tx| tx.purge_events(cut, 10)).await.unwrap(), 0);
        assert_eq!(
            texts(db, "SELECT id AS v FROM events ORDER BY id"),
            [EventId::from_ulid(ulid(3)).to_string(), EventId::from_ulid(ulid(5)).to_string()],
            "the pending one and the recent one stay"
        );
        assert_eq!(
            texts(db, "SELECT event_id AS v FROM webhook_deliveries"),
            [EventId::from_ulid(ulid(3)).to_string()]
        );

        assert_eq!(
            store.transaction(|tx| tx.purge_delivery_attempts(at(800_000), 10)).await.unwrap(),
            0
        );
        assert_eq!(
            store.transaction(|tx| tx.purge_delivery_attempts(at(1_000_000), 10)).await.unwrap(),
            1
        );
        assert_eq!(count(db, "webhook_delivery_attempts"), 0);
    }
}
