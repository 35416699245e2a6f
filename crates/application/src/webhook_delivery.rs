//! The delivery worker: drains the webhook outbox that `append_event`
//! fills in each change's own transaction.
//!
//! - **Claim**: a short transaction takes due deliveries (`FOR UPDATE SKIP
//!   LOCKED` on PostgreSQL) and moves their due time to the end of a lease,
//!   so that another server skips them; the lease outlives the request
//!   timeout, so only a worker that died (SIGKILL, crash) lets one run out,
//!   and then the delivery is simply due again: at least once, nothing lost.
//! - **Send**: outside any transaction, each delivery in its own task,
//!   at most `concurrency` at a time; the worker claims only as many as it
//!   has free slots, and tells the claim how many it already has in flight
//!   per webhook and per environment, so that one webhook holds at most
//!   `per_webhook` slots and one environment at most `per_environment`: a
//!   slow receiver with a backlog delays its own deliveries, not the
//!   others' (the claim shares free slots among due webhooks in turns).
//! - **Record**: a second short transaction stores the attempt and moves the
//!   delivery on: succeeded, due again after an exponential backoff with
//!   jitter, or failed once the retry horizon is reached.
//!
//! The worker never stops on a store failure: it logs and tries again after
//! the poll interval.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_domain::webhook::{DeliveryAttempt, DeliveryOutcome, retry_delay_ms};
use portcullis_domain::{DeliveryAttemptId, EnvironmentId, Timestamp, WebhookId};
use portcullis_ports::store::{ClaimLimits, ClaimedDelivery, StoreError, UnitOfWork};
use portcullis_ports::webhooks::{OutgoingWebhook, SendReport, WebhookSender};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, watch};

use crate::Ports;

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Deliveries in flight at most.
    pub concurrency: usize,
    /// Deliveries in flight at most for one webhook.
    pub per_webhook: u32,
    /// Deliveries in flight at most for one environment.
    pub per_environment: u32,
    /// Wait between polls when nothing is due (or the store failed).
    pub poll_interval: Duration,
    /// How long a claimed delivery stays away from other workers; must
    /// exceed the request timeout.
    pub lease: Duration,
    /// First retry delay in milliseconds (doubled for each further one).
    pub initial_backoff_ms: u64,
    /// Longest retry delay in milliseconds.
    pub max_backoff_ms: u64,
    /// Time after queueing past which a failing delivery is given up.
    pub retry_horizon: Duration,
}

/// A number in `[0, 1)` for the jitter of each retry delay.
pub type Jitter = Arc<dyn Fn() -> f64 + Send + Sync>;

/// Deliveries in flight, per webhook and per environment.
#[derive(Debug, Default)]
struct InFlight {
    webhooks: HashMap<WebhookId, u32>,
    environments: HashMap<EnvironmentId, u32>,
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Some(count) = counts.get_mut(&key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            counts.remove(&key);
        }
    }
}

/// Counts one delivery in flight until dropped (also when its task panics).
struct Holding {
    in_flight: Arc<Mutex<InFlight>>,
    webhook: WebhookId,
    environment: EnvironmentId,
}

impl Holding {
    fn new(in_flight: &Arc<Mutex<InFlight>>, delivery: &ClaimedDelivery) -> Self {
        let mut counts = lock(in_flight);
        *counts.webhooks.entry(delivery.webhook_id).or_default() += 1;
        *counts
            .environments
            .entry(delivery.environment_id)
            .or_default() += 1;
        Self {
            in_flight: Arc::clone(in_flight),
            webhook: delivery.webhook_id,
            environment: delivery.environment_id,
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let mut counts = lock(&self.in_flight);
        decrement(&mut counts.webhooks, self.webhook);
        decrement(&mut counts.environments, self.environment);
    }
}

/// The counts are plain numbers: a panic elsewhere cannot leave them half-written.
fn lock(in_flight: &Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    in_flight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Delivers queued webhook events until told to stop.
pub struct DeliveryWorker<U> {
    ports: Ports<U>,
    sender: Arc<dyn WebhookSender>,
    policy: DeliveryPolicy,
    jitter: Jitter,
    in_flight: Arc<Mutex<InFlight>>,
}

impl<U> std::fmt::Debug for DeliveryWorker<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryWorker")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn plus_millis(at: Timestamp, millis: u64) -> Timestamp {
    let micros = i64::try_from(millis)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    Timestamp::from_unix_micros(at.unix_micros().saturating_add(micros)).unwrap_or(at)
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The request body: the event's type, time and data (the resource object
/// as the API returned it).
#[must_use]
pub fn payload(delivery: &ClaimedDelivery) -> String {
    let data = serde_json::from_str::<Value>(&delivery.data).unwrap_or(Value::Null);
    json!({
        "type": delivery.event_type,
        "timestamp": delivery.occurred_at.to_rfc3339(),
        "data": data,
    })
    .to_string()
}

impl<U: UnitOfWork> DeliveryWorker<U> {
    /// A worker sending through `sender`.
    pub fn new(
        ports: Ports<U>,
        sender: Arc<dyn WebhookSender>,
        policy: DeliveryPolicy,
        jitter: Jitter,
    ) -> Self {
        Self {
            ports,
            sender,
            policy,
            jitter,
            in_flight: Arc::default(),
        }
    }

    /// Runs until `stop` turns true, then waits (at most the lease) for the
    /// deliveries in flight. Deliveries it could not finish are due again
    /// once their lease runs out.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.policy.concurrency.max(1)));
        tracing::info!(
            concurrency = self.policy.concurrency,
            "webhook delivery worker started"
        );
        // A dropped sender counts as a stop: `changed()` would return at once forever.
        while !*stop.borrow() && stop.has_changed().is_ok() {
            let free = slots.available_permits();
            let claimed = if free == 0 {
                Ok(Vec::new())
            } else {
                self.claim(u32::try_from(free).unwrap_or(u32::MAX)).await
            };
            let idle = match claimed {
                Ok(batch) => {
                    let empty = batch.is_empty();
                    for delivery in batch {
                        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                            return;
                        };
                        let holding = Holding::new(&self.in_flight, &delivery);
                        let worker = Arc::clone(&self);
                        tokio::spawn(async move {
                            worker.deliver(delivery).await;
                            drop(holding);
                            drop(permit);
                        });
                    }
                    // With every slot busy, wait for one rather than poll.
                    if free == 0 {
                        tokio::select! {
                            permit = Arc::clone(&slots).acquire_owned() => drop(permit),
                            _ = stop.changed() => {}
                        }
                        false
                    } else {
                        empty
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %error, "cannot claim webhook deliveries; retrying");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = tokio::time::sleep(self.policy.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        let all = u32::try_from(self.policy.concurrency.max(1)).unwrap_or(u32::MAX);
        let drained = tokio::time::timeout(self.policy.lease, slots.acquire_many(all)).await;
        tracing::info!(drained = drained.is_ok(), "webhook delivery worker stopped");
    }

    async fn claim(&self, free: u32) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = self.ports.clock.now();
        let lease_until = plus_millis(now, duration_ms(self.policy.lease));
        let limits = {
            let counts = lock(&self.in_flight);
            ClaimLimits {
                total: free,
                per_webhook: self.policy.per_webhook.max(1),
                per_environment: self.policy.per_environment.max(1),
                in_flight_webhooks: counts.webhooks.clone(),
                in_flight_environments: counts.environments.clone(),
            }
        };
        self.ports
            .store
            .transaction(move |tx| tx.claim_deliveries(now, lease_until, &limits))
            .await
    }

    /// Sends one delivery and records the attempt; failures are logged.
    pub async fn deliver(&self, delivery: ClaimedDelivery) {
        let attempted_at = self.ports.clock.now();
        let report = match self
            .ports
            .cipher
            .decrypt(delivery.signing_secret.as_bytes())
        {
            Ok(secret) => {
                let secret = secrecy::ExposeSecret::expose_secret(&secret);
                match std::str::from_utf8(secret) {
                    Ok(text) => {
                        self.sender
                            .send(OutgoingWebhook {
                                url: delivery.url.clone(),
                                message_id: delivery.event_id.to_string(),
                                timestamp: attempted_at.unix_seconds(),
                                body: payload(&delivery),
                                secret: SecretString::from(text.to_owned()),
                            })
                            .await
                    }
                    Err(_) => unusable_secret(),
                }
            }
            Err(error) => {
                tracing::error!(error = %error, webhook_id = %delivery.webhook_id, "cannot decrypt a webhook signing secret");
                unusable_secret()
            }
        };
        let (attempt, retry_at) = self.judge(&delivery, &report, attempted_at);
        tracing::info!(
            webhook_id = %attempt.webhook_id,
            event_id = %attempt.event_id,
            attempt = attempt.attempt,
            status = ?attempt.status_code,
            duration_ms = attempt.duration_ms,
            outcome = attempt.outcome.as_str(),
            "webhook delivery attempt"
        );
        metrics::counter!(
            "portcullis_webhook_deliveries_total",
            "outcome" => attempt.outcome.as_str()
        )
        .increment(1);
        let recorded = self
            .ports
            .store
            .transaction(move |tx| tx.record_delivery_attempt(&attempt, retry_at))
            .await;
        if let Err(error) = recorded {
            // The lease runs out and the delivery is sent again: at least once.
            tracing::warn!(error = %error, "cannot record a webhook delivery attempt; it will be retried");
        }
    }

    /// The attempt to record and, unless it is the last, when to retry.
    fn judge(
        &self,
        delivery: &ClaimedDelivery,
        report: &SendReport,
        attempted_at: Timestamp,
    ) -> (DeliveryAttempt, Option<Timestamp>) {
        let (outcome, retry_at) = if report.succeeded() {
            (DeliveryOutcome::Succeeded, None)
        } else {
            let delay = retry_delay_ms(
                delivery.attempt,
                self.policy.initial_backoff_ms,
                self.policy.max_backoff_ms,
                (self.jitter)(),
            );
            let next = plus_millis(self.ports.clock.now(), delay);
            let horizon = plus_millis(delivery.queued_at, duration_ms(self.policy.retry_horizon));
            if next > horizon {
                (DeliveryOutcome::Failed, None)
            } else {
                (DeliveryOutcome::Retrying, Some(next))
            }
        };
        let attempt = DeliveryAttempt {
            id: DeliveryAttemptId::from_ulid(self.ports.ids.next_ulid()),
            webhook_id: delivery.webhook_id,
            event_id: delivery.event_id,
            attempt: delivery.attempt,
            status_code: report.status_code,
            duration_ms: report.duration_ms,
            error: report.error.clone(),
            outcome,
            attempted_at,
        };
        (attempt, retry_at)
    }
}

fn unusable_secret() -> SendReport {
    SendReport {
        status_code: None,
        duration_ms: 0,
        error: Some("the signing secret cannot be decrypted".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::EventId;
    use portcullis_domain::webhook::EncryptedSigningSecret;
    use portcullis_ports::testing::{InlineUow, MockTx};
    use portcullis_ports::webhooks::MockWebhookSender;

    fn policy() -> DeliveryPolicy {
        DeliveryPolicy {
            concurrency: 4,
            per_webhook: 4,
            per_environment: 4,
            poll_interval: Duration::from_millis(10),
            lease: Duration::from_secs(30),
            initial_backoff_ms: 1000,
            max_backoff_ms: 60_000,
            retry_horizon: Duration::from_secs(3600),
        }
    }

    fn claimed(attempt: u32, queued_at: Timestamp) -> ClaimedDelivery {
        ClaimedDelivery {
            webhook_id: WebhookId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: EnvironmentId::from_ulid(ulid::Ulid::from_parts(3, 3)),
            event_id: EventId::from_ulid(ulid::Ulid::from_parts(2, 2)),
            attempt,
            url: "https://hooks.example.com/".into(),
            signing_secret: EncryptedSigningSecret::new(
                b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_vec(),
            ),
            event_type: "user.created".into(),
            data: r#"{"type":"user","id":"X"}"#.into(),
            occurred_at: now(),
            queued_at,
        }
    }

    fn worker(tx: MockTx, report: SendReport) -> DeliveryWorker<InlineUow> {
        let mut sender = MockWebhookSender::new();
        sender
            .expect_send()
            .withf(|r| {
                r.message_id == EventId::from_ulid(ulid::Ulid::from_parts(2, 2)).to_string()
                    && r.timestamp == now().unix_seconds()
                    && serde_json::from_str::<Value>(&r.body).ok()
                        == Some(json!({
                            "type": "user.created",
                            "timestamp": now().to_rfc3339(),
                            "data": {"type": "user", "id": "X"},
                        }))
                    && secrecy::ExposeSecret::expose_secret(&r.secret)
                        == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            })
            .times(1)
            .returning(move |_| report.clone());
        DeliveryWorker::new(
            fixed_ports(InlineUow::new(tx), None),
            Arc::new(sender),
            policy(),
            Arc::new(|| 0.0),
        )
    }

    fn report(status: Option<u16>, error: Option<&str>) -> SendReport {
        SendReport {
            status_code: status,
            duration_ms: 12,
            error: error.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn a_2xx_is_recorded_as_succeeded_with_no_retry() {
        let mut tx = MockTx::new();
        tx.expect_record_delivery_attempt()
            .withf(|a, retry| {
                a.outcome == DeliveryOutcome::Succeeded
                    && a.attempt == 1
                    && a.status_code == Some(204)
                    && a.duration_ms == 12
                    && retry.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(()));
        worker(tx, report(Some(204), None))
            .deliver(claimed(1, now()))
            .await;
    }

    #[tokio::test]
    async fn a_failure_is_retried_after_the_jittered_backoff() {
        let mut tx = MockTx::new();
        tx.expect_record_delivery_attempt()
            .withf(|a, retry| {
                // attempt 3, initial 1 s: 4 s, jitter 0 halves it.
                a.outcome == DeliveryOutcome::Retrying
                    && a.attempt == 3
                    && a.error.as_deref() == Some("the receiver answered 500")
                    && *retry == Some(plus_millis(now(), 2000))
            })
            .times(1)
            .returning(|_, _| Ok(()));
        worker(tx, report(Some(500), Some("the receiver answered 500")))
            .deliver(claimed(3, now()))
            .await;
    }

    #[tokio::test]
    async fn past_the_horizon_a_failure_is_final() {
        let mut tx = MockTx::new();
        tx.expect_record_delivery_attempt()
            .withf(|a, retry| {
                a.outcome == DeliveryOutcome::Failed && a.status_code.is_none() && retry.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let queued = Timestamp::from_unix_micros(now().unix_micros() - 3_600_000_000).unwrap();
        worker(tx, report(None, Some("timed out after 500 ms")))
            .deliver(claimed(1, queued))
            .await;
    }

    #[tokio::test]
    async fn a_store_failure_while_recording_does_not_panic() {
        let mut tx = MockTx::new();
        tx.expect_record_delivery_attempt()
            .times(1)
            .returning(|_, _| Err(StoreError::Unavailable("down".into())));
        worker(tx, report(Some(200), None))
            .deliver(claimed(1, now()))
            .await;
    }

    #[tokio::test]
    async fn the_loop_survives_claim_failures_and_stops_when_told() {
        let mut tx = MockTx::new();
        tx.expect_claim_deliveries()
            .returning(|_, _, _| Err(StoreError::Unavailable("down".into())));
        let worker = Arc::new(DeliveryWorker::new(
            fixed_ports(InlineUow::new(tx), None),
            Arc::new(MockWebhookSender::new()),
            policy(),
            Arc::new(|| 0.5),
        ));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(&worker).run(stopped));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !task.is_finished(),
            "a store outage must not end the worker"
        );
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops promptly")
            .unwrap();
    }

    /// A sender that holds every request until the test releases it.
    struct HeldSender(Arc<Semaphore>);

    // The port is an `async_trait`; this crate does not depend on the macro.
    impl WebhookSender for HeldSender {
        fn send<'life0, 'async_trait>(
            &'life0 self,
            _request: OutgoingWebhook,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = SendReport> + Send + 'async_trait>>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let _permit = self.0.acquire().await;
                SendReport {
                    status_code: Some(204),
                    duration_ms: 1,
                    error: None,
                }
            })
        }
    }

    #[tokio::test]
    async fn each_claim_is_told_what_each_webhook_and_environment_has_in_flight() {
        let seen: Arc<Mutex<Vec<ClaimLimits>>> = Arc::default();
        let mut tx = MockTx::new();
        let record = Arc::clone(&seen);
        tx.expect_claim_deliveries().returning(move |_, _, limits| {
            let mut seen = record.lock().unwrap();
            seen.push(limits.clone());
            if seen.len() > 1 {
                return Ok(Vec::new());
            }
            let mut second = claimed(1, now());
            second.event_id = EventId::from_ulid(ulid::Ulid::from_parts(2, 3));
            Ok(vec![claimed(1, now()), second])
        });
        tx.expect_record_delivery_attempt()
            .times(2)
            .returning(|_, _| Ok(()));
        let release = Arc::new(Semaphore::new(0));
        let mut policy = policy();
        policy.per_webhook = 2;
        policy.per_environment = 3;
        let worker = Arc::new(DeliveryWorker::new(
            fixed_ports(InlineUow::new(tx), None),
            Arc::new(HeldSender(Arc::clone(&release))),
            policy,
            Arc::new(|| 0.5),
        ));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(&worker).run(stopped));
        let webhook = claimed(1, now()).webhook_id;
        let environment = claimed(1, now()).environment_id;
        // Whether a claim from the `from`-th on satisfies `check` (within 5 s).
        let wait_for = |from: usize, check: Box<dyn Fn(&ClaimLimits) -> bool>| {
            let seen = Arc::clone(&seen);
            async move {
                for _ in 0..500 {
                    if seen.lock().unwrap().iter().skip(from).any(&check) {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                false
            }
        };
        assert!(
            wait_for(
                1,
                Box::new(move |l: &ClaimLimits| {
                    l.total == 2
                        && l.per_webhook == 2
                        && l.per_environment == 3
                        && l.in_flight_webhooks == HashMap::from([(webhook, 2)])
                        && l.in_flight_environments == HashMap::from([(environment, 2)])
                })
            )
            .await,
            "the claim after the first must count the two held deliveries: {:?}",
            seen.lock().unwrap()
        );
        let first = seen.lock().unwrap()[0].clone();
        assert_eq!(first.total, 4);
        assert!(first.in_flight_webhooks.is_empty() && first.in_flight_environments.is_empty());
        release.add_permits(2);
        let calls = seen.lock().unwrap().len();
        assert!(
            wait_for(
                calls,
                Box::new(move |l: &ClaimLimits| {
                    l.total == 4
                        && l.in_flight_webhooks.is_empty()
                        && l.in_flight_environments.is_empty()
                })
            )
            .await,
            "finished deliveries no longer count"
        );
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("stops promptly")
            .unwrap();
    }
}
