//! Retention: a background janitor that deletes what nobody needs any more,
//! in bounded batches so that no transaction holds many rows:
//! - opaque access tokens some time after they expired (an expired token is
//!   inactive whether its row exists or not);
//! - audit events older than the retention, when one is set (by default the
//!   audit trail is kept forever), never while a webhook delivery of theirs
//!   is pending;
//! - webhook delivery attempts older than their retention.
//!
//! Every node may run it; each deletes what it finds.

use std::sync::Arc;
use std::time::Duration;

use portcullis_domain::Timestamp;
use portcullis_ports::store::{StoreError, UnitOfWork};
use tokio::sync::watch;

use crate::Ports;

const DAY: i64 = 86_400;

/// What to keep, and how the janitor works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Seconds an opaque token's row is kept after it expired.
    pub access_token_grace_seconds: i64,
    /// Days audit events are kept; 0 keeps them forever.
    pub events_days: u32,
    /// Days webhook delivery attempts are kept; 0 keeps them forever.
    pub delivery_attempts_days: u32,
    /// Rows deleted per transaction.
    pub batch: u32,
    /// Time between two runs.
    pub interval: Duration,
}

/// Rows one run deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Expired opaque tokens.
    pub access_tokens: u64,
    /// Audit events (with their settled deliveries).
    pub events: u64,
    /// Webhook delivery attempts.
    pub delivery_attempts: u64,
}

/// Which purge a batch runs.
#[derive(Clone, Copy, Debug)]
enum Purge {
    AccessTokens,
    Events,
    DeliveryAttempts,
}

/// The janitor.
pub struct Janitor<U> {
    ports: Ports<U>,
    policy: RetentionPolicy,
}

impl<U> std::fmt::Debug for Janitor<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Janitor")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> Janitor<U> {
    /// A janitor applying `policy`.
    pub fn new(ports: Ports<U>, policy: RetentionPolicy) -> Self {
        Self { ports, policy }
    }

    /// Deletes everything past its retention now, batch after batch.
    ///
    /// # Errors
    /// The first store failure (what was deleted before it stays deleted).
    pub async fn run_once(&self) -> Result<PurgeReport, StoreError> {
        let now = self.ports.clock.now();
        let days = |n: u32| now.plus_seconds(-i64::from(n) * DAY);
        let mut report = PurgeReport {
            access_tokens: self
                .purge(
                    Purge::AccessTokens,
                    now.plus_seconds(-self.policy.access_token_grace_seconds),
                )
                .await?,
            ..PurgeReport::default()
        };
        if self.policy.events_days > 0 {
            report.events = self
                .purge(Purge::Events, days(self.policy.events_days))
                .await?;
        }
        if self.policy.delivery_attempts_days > 0 {
            report.delivery_attempts = self
                .purge(
                    Purge::DeliveryAttempts,
                    days(self.policy.delivery_attempts_days),
                )
                .await?;
        }
        Ok(report)
    }

    /// Runs one kind of purge in batches until a batch comes back short.
    async fn purge(&self, purge: Purge, before: Timestamp) -> Result<u64, StoreError> {
        let batch = self.policy.batch.max(1);
        let mut total = 0;
        loop {
            let deleted = self
                .ports
                .store
                .transaction(move |tx| match purge {
                    Purge::AccessTokens => tx.purge_access_tokens(before, batch),
                    Purge::Events => tx.purge_events(before, batch),
                    Purge::DeliveryAttempts => tx.purge_delivery_attempts(before, batch),
                })
                .await?;
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }

    /// Runs every `interval` until `stop` turns true (or its sender drops).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() && stop.has_changed().is_ok() {
            match self.run_once().await {
                Ok(report) if report != PurgeReport::default() => tracing::info!(
                    access_tokens = report.access_tokens,
                    events = report.events,
                    delivery_attempts = report.delivery_attempts,
                    "retention: purged"
                ),
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "retention: purge failed; next run will retry")
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.policy.interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use portcullis_ports::testing::{InlineUow, MockTx};

    use super::*;
    use crate::testing::{fixed_ports, now};

    fn policy(events_days: u32, delivery_attempts_days: u32) -> RetentionPolicy {
        RetentionPolicy {
            access_token_grace_seconds: 3600,
            events_days,
            delivery_attempts_days,
            batch: 2,
            interval: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn expired_tokens_are_purged_in_batches_after_the_grace() {
        let mut tx = MockTx::new();
        let batches = Arc::new(Mutex::new(vec![2u64, 2, 1]));
        let left = Arc::clone(&batches);
        tx.expect_purge_access_tokens()
            .withf(|before, limit| *before == now().plus_seconds(-3600) && *limit == 2)
            .times(3)
            .returning(move |_, _| Ok(left.lock().unwrap().remove(0)));
        tx.expect_purge_events().never();
        tx.expect_purge_delivery_attempts().never();
        let uow = InlineUow::new(tx);
        let janitor = Janitor::new(fixed_ports(uow.clone(), None), policy(0, 0));

        let report = janitor.run_once().await.unwrap();

        assert_eq!(
            report,
            PurgeReport {
                access_tokens: 5,
                ..PurgeReport::default()
            }
        );
        assert_eq!(uow.log().committed, 3, "one transaction per batch");
    }

    #[tokio::test]
    async fn events_and_attempts_are_purged_only_when_a_retention_is_set() {
        let mut tx = MockTx::new();
        tx.expect_purge_access_tokens().returning(|_, _| Ok(0));
        tx.expect_purge_events()
            .withf(|before, _| *before == now().plus_seconds(-90 * DAY))
            .times(1)
            .returning(|_, _| Ok(1));
        tx.expect_purge_delivery_attempts()
            .withf(|before, _| *before == now().plus_seconds(-7 * DAY))
            .times(1)
            .returning(|_, _| Ok(0));
        let janitor = Janitor::new(fixed_ports(InlineUow::new(tx), None), policy(90, 7));

        let report = janitor.run_once().await.unwrap();

        assert_eq!(report.events, 1);
        assert_eq!(report.delivery_attempts, 0);
    }

    #[tokio::test]
    async fn a_store_failure_stops_the_run_with_its_error() {
        let mut tx = MockTx::new();
        tx.expect_purge_access_tokens()
            .returning(|_, _| Err(StoreError::Unavailable("down".into())));
        tx.expect_purge_events().never();
        let janitor = Janitor::new(fixed_ports(InlineUow::new(tx), None), policy(30, 0));

        assert!(matches!(
            janitor.run_once().await,
            Err(StoreError::Unavailable(_))
        ));
    }
}
