//! [`WebhookRepo`] and [`DeliveryRepo`] on [`DbTx`]. Subscriptions are
//! rows of `webhook_events` (read for a page in one more query); the
//! outbox is `webhook_deliveries`, filled by `append_event` (see
//! `events.rs`) and drained by the delivery worker through
//! [`DeliveryRepo::claim_deliveries`].

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use portcullis_domain::webhook::{DeliveryAttempt, DeliveryOutcome, Webhook};
use portcullis_domain::{EnvironmentId, Timestamp, WebhookId};
use portcullis_ports::store::{
    ClaimLimits, ClaimedDelivery, DeliveryRepo, Keyset, StoreError, WebhookRepo,
};
use time::PrimitiveDateTime;

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::parse_id;
use crate::rows::webhook::{
    AttemptRow, ClaimRow, NewWebhookRow, WebhookChangeset, WebhookEventRow, WebhookRow,
};
use crate::schema::{
    events, webhook_deliveries, webhook_delivery_attempts, webhook_events, webhooks,
};

/// A webhook with deliveries due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DueWebhook {
    webhook: WebhookId,
    environment: EnvironmentId,
    /// When its oldest due delivery became due.
    since: Option<PrimitiveDateTime>,
    /// How many are due.
    due: u32,
}

/// How many deliveries of each webhook a claim takes: in turns, one per
/// webhook per turn, the webhook waiting longest first, each while it has
/// due deliveries and room (its own and its environment's), until the claim
/// is full or nobody can take more. A webhook with 40 due deliveries thus
/// takes no more than its room, and the others their turns.
fn share_claim(mut waiting: Vec<DueWebhook>, limits: &ClaimLimits) -> Vec<(WebhookId, u32)> {
    waiting.sort_by_key(|w| (w.since, w.webhook));
    let mut shares: Vec<u32> = vec![0; waiting.len()];
    let mut taken_by_environment: HashMap<EnvironmentId, u32> = HashMap::new();
    let mut left = limits.total;
    let mut progressed = true;
    while left > 0 && progressed {
        progressed = false;
        for (w, share) in waiting.iter().zip(shares.iter_mut()) {
            if left == 0 {
                break;
            }
            let environment_taken = taken_by_environment.entry(w.environment).or_default();
            if *share < w.due.min(limits.webhook_room(w.webhook))
                && *environment_taken < limits.environment_room(w.environment)
            {
                *share += 1;
                *environment_taken += 1;
                left -= 1;
                progressed = true;
            }
        }
    }
    waiting
        .iter()
        .zip(shares)
        .filter(|(_, share)| *share > 0)
        .map(|(w, share)| (w.webhook, share))
        .collect()
}

impl DbTx<'_> {
    /// The webhooks of `rows` with their subscriptions, read in one query.
    fn webhooks_with_events(&mut self, rows: Vec<WebhookRow>) -> Result<Vec<Webhook>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let subscriptions = self.run(|conn| {
            webhook_events::table
                .filter(webhook_events::webhook_id.eq_any(&ids))
                .order((webhook_events::webhook_id, webhook_events::position))
                .select(WebhookEventRow::as_select())
                .load::<WebhookEventRow>(conn)
        })?;
        let mut by_webhook: HashMap<String, Vec<String>> = HashMap::new();
        for row in subscriptions {
            by_webhook
                .entry(row.webhook_id)
                .or_default()
                .push(row.event_type);
        }
        rows.into_iter()
            .map(|row| {
                let events = by_webhook.remove(&row.id).unwrap_or_default();
                row.into_domain(events)
            })
            .collect()
    }

    /// Writes the subscriptions of `webhook` (one statement each: a
    /// multi-row insert does not compile on the two-backend connection).
    fn insert_subscriptions(conn: &mut AnyConnection, webhook: &Webhook) -> QueryResult<()> {
        for row in WebhookEventRow::of(webhook) {
            diesel::insert_into(webhook_events::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(())
    }
}

impl WebhookRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %webhook.id))]
    fn insert_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError> {
        let row = NewWebhookRow::from_domain(webhook);
        self.guarded(|conn| {
            diesel::insert_into(webhooks::table)
                .values(&row)
                .execute(conn)?;
            Self::insert_subscriptions(conn, webhook)
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %webhook.id))]
    fn update_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError> {
        let changes = WebhookChangeset::from_domain(webhook);
        let id = webhook.id.to_string();
        let environment = webhook.environment_id.to_string();
        let updated = self.guarded(|conn| {
            let updated = diesel::update(webhooks::table)
                .filter(webhooks::id.eq(&id))
                .filter(webhooks::environment_id.eq(&environment))
                .set(&changes)
                .execute(conn)?;
            if updated > 0 {
                diesel::delete(webhook_events::table)
                    .filter(webhook_events::webhook_id.eq(&id))
                    .execute(conn)?;
                Self::insert_subscriptions(conn, webhook)?;
            }
            Ok(updated)
        })?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %id))]
    fn delete_webhook(
        &mut self,
        environment: EnvironmentId,
        id: WebhookId,
    ) -> Result<bool, StoreError> {
        let deleted = self.run(|conn| {
            diesel::delete(webhooks::table)
                .filter(webhooks::id.eq(id.to_string()))
                .filter(webhooks::environment_id.eq(environment.to_string()))
                .execute(conn)
        })?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %id))]
    fn find_webhook(
        &mut self,
        environment: EnvironmentId,
        id: WebhookId,
    ) -> Result<Option<Webhook>, StoreError> {
        let row = self.run(|conn| {
            webhooks::table
                .filter(webhooks::id.eq(id.to_string()))
                .filter(webhooks::environment_id.eq(environment.to_string()))
                .select(WebhookRow::as_select())
                .first(conn)
                .optional()
        })?;
        Ok(self.webhooks_with_events(row.into_iter().collect())?.pop())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_webhooks(
        &mut self,
        environment: EnvironmentId,
        page: &Keyset,
    ) -> Result<Vec<Webhook>, StoreError> {
        let select = webhooks::table
            .filter(webhooks::environment_id.eq(environment.to_string()))
            .select(WebhookRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, webhooks::id, page);
        let rows = self.run(|conn| select.load::<WebhookRow>(conn))?;
        self.webhooks_with_events(rows)
    }
}

impl DeliveryRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all)]
    fn claim_deliveries(
        &mut self,
        now: Timestamp,
        lease_until: Timestamp,
        limits: &ClaimLimits,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if limits.total == 0 {
            return Ok(Vec::new());
        }
        let now = now.as_primitive();
        // 1. The webhooks with due deliveries, read without locks: how many
        //    each has and since when.
        let due: Vec<(String, Option<String>, Option<PrimitiveDateTime>, i64)> =
            self.run(|conn| {
                webhook_deliveries::table
                    .inner_join(webhooks::table)
                    .filter(webhook_deliveries::status.eq("pending"))
                    .filter(webhook_deliveries::next_attempt_at.le(now))
                    .group_by(webhook_deliveries::webhook_id)
                    .select((
                        webhook_deliveries::webhook_id,
                        // One value per webhook: its environment.
                        diesel::dsl::min(webhooks::environment_id),
                        diesel::dsl::min(webhook_deliveries::next_attempt_at),
                        diesel::dsl::count_star(),
                    ))
                    .load(conn)
            })?;
        let mut waiting = Vec::with_capacity(due.len());
        for (webhook, environment, since, count) in due {
            waiting.push(DueWebhook {
                webhook: parse_id(
                    "webhook_deliveries",
                    "webhook_id",
                    &webhook,
                    WebhookId::parse,
                )?,
                environment: parse_id(
                    "webhooks",
                    "environment_id",
                    environment.as_deref().unwrap_or_default(),
                    EnvironmentId::parse,
                )?,
                since,
                due: u32::try_from(count).unwrap_or(u32::MAX),
            });
        }
        // 2. Their shares of the claim; 3. that many of each, oldest first,
        //    locked (rows another worker holds are skipped).
        let mut keys: Vec<(String, String)> = Vec::new();
        for (webhook, share) in share_claim(waiting, limits) {
            let webhook = webhook.to_string();
            macro_rules! due {
                () => {
                    webhook_deliveries::table
                        .filter(webhook_deliveries::webhook_id.eq(&webhook))
                        .filter(webhook_deliveries::status.eq("pending"))
                        .filter(webhook_deliveries::next_attempt_at.le(now))
                        .order((
                            webhook_deliveries::next_attempt_at.asc(),
                            webhook_deliveries::event_id.asc(),
                        ))
                        .limit(i64::from(share))
                        .select((webhook_deliveries::webhook_id, webhook_deliveries::event_id))
                };
            }
            let taken: Vec<(String, String)> = self.run(|conn| match conn {
                // Only the outbox rows are locked, and rows another worker
                // holds are skipped rather than waited for: two servers on one
                // database never take the same delivery. It only compiles on
                // the inner connection.
                AnyConnection::Postgres(pg) => due!().for_update().skip_locked().load(pg),
                // SQLite write transactions are serial (`BEGIN IMMEDIATE`).
                AnyConnection::Sqlite(_) => due!().load(conn),
            })?;
            keys.extend(taken);
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let lease = lease_until.as_primitive();
        self.run(|conn| {
            for (webhook, event) in &keys {
                diesel::update(webhook_deliveries::table)
                    .filter(webhook_deliveries::webhook_id.eq(webhook))
                    .filter(webhook_deliveries::event_id.eq(event))
                    .set(webhook_deliveries::next_attempt_at.eq(lease))
                    .execute(conn)?;
            }
            Ok(())
        })?;
        let webhook_ids: Vec<&String> = keys.iter().map(|(w, _)| w).collect();
        let event_ids: Vec<&String> = keys.iter().map(|(_, e)| e).collect();
        let rows: Vec<ClaimRow> = self.run(|conn| {
            webhook_deliveries::table
                .inner_join(webhooks::table)
                .inner_join(events::table)
                .filter(webhook_deliveries::webhook_id.eq_any(webhook_ids))
                .filter(webhook_deliveries::event_id.eq_any(event_ids))
                .order((
                    webhook_deliveries::event_id.asc(),
                    webhook_deliveries::webhook_id.asc(),
                ))
                .select((
                    webhook_deliveries::webhook_id,
                    webhook_deliveries::event_id,
                    webhooks::environment_id,
                    webhook_deliveries::attempts,
                    webhook_deliveries::created_at,
                    webhooks::url,
                    webhooks::signing_secret,
                    events::event_type,
                    events::data,
                    events::occurred_at,
                ))
                .load(conn)
        })?;
        let wanted: HashSet<(String, String)> = keys.into_iter().collect();
        rows.into_iter()
            .filter(|row| wanted.contains(&(row.webhook_id.clone(), row.event_id.clone())))
            .map(ClaimRow::into_claimed)
            .collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %attempt.webhook_id, attempt = attempt.attempt))]
    fn record_delivery_attempt(
        &mut self,
        attempt: &DeliveryAttempt,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let status = match (attempt.outcome, retry_at) {
            (DeliveryOutcome::Succeeded, _) => "succeeded",
            (_, Some(_)) => "pending",
            (_, None) => "failed",
        };
        let made = i32::try_from(attempt.attempt).unwrap_or(i32::MAX);
        let row = AttemptRow::from_domain(attempt);
        let (webhook, event) = (attempt.webhook_id.to_string(), attempt.event_id.to_string());
        self.guarded(|conn| {
            // Only the worker that claimed this attempt moves the delivery
            // on: one whose lease ran out and was taken over finds the
            // attempt count changed and records nothing.
            let delivery = webhook_deliveries::table
                .filter(webhook_deliveries::webhook_id.eq(&webhook))
                .filter(webhook_deliveries::event_id.eq(&event))
                .filter(webhook_deliveries::attempts.eq(made - 1));
            let updated = match retry_at {
                Some(at) => diesel::update(delivery)
                    .set((
                        webhook_deliveries::status.eq(status),
                        webhook_deliveries::attempts.eq(made),
                        webhook_deliveries::next_attempt_at.eq(at.as_primitive()),
                    ))
                    .execute(conn)?,
                None => diesel::update(delivery)
                    .set((
                        webhook_deliveries::status.eq(status),
                        webhook_deliveries::attempts.eq(made),
                    ))
                    .execute(conn)?,
            };
            if updated > 0 {
                diesel::insert_into(webhook_delivery_attempts::table)
                    .values(&row)
                    .execute(conn)?;
            }
            Ok(())
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(webhook_id = %webhook))]
    fn list_delivery_attempts(
        &mut self,
        webhook: WebhookId,
        page: &Keyset,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let select = webhook_delivery_attempts::table
            .filter(webhook_delivery_attempts::webhook_id.eq(webhook.to_string()))
            .select(AttemptRow::as_select())
            .into_boxed();
        let select = id_keyset!(select, webhook_delivery_attempts::id, page);
        let rows = self.run(|conn| select.load::<AttemptRow>(conn))?;
        rows.into_iter().map(AttemptRow::into_domain).collect()
    }

    fn count_pending_deliveries(&mut self) -> Result<u64, StoreError> {
        // Served by the partial index on pending rows.
        let count: i64 = self.run(|conn| {
            webhook_deliveries::table
                .filter(webhook_deliveries::status.eq("pending"))
                .count()
                .get_result(conn)
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> ulid::Ulid {
        ulid::Ulid::from_parts(n, 0)
    }

    fn due(webhook: u64, environment: u64, since: i64, due: u32) -> DueWebhook {
        DueWebhook {
            webhook: WebhookId::from_ulid(id(webhook)),
            environment: EnvironmentId::from_ulid(id(environment)),
            since: Some(Timestamp::from_unix_micros(since).unwrap().as_primitive()),
            due,
        }
    }

    fn limits(total: u32, per_webhook: u32, per_environment: u32) -> ClaimLimits {
        ClaimLimits {
            total,
            per_webhook,
            per_environment,
            ..ClaimLimits::default()
        }
    }

    fn shares(waiting: Vec<DueWebhook>, limits: &ClaimLimits) -> Vec<(u64, u32)> {
        share_claim(waiting, limits)
            .into_iter()
            .map(|(w, n)| (w.as_ulid().timestamp_ms(), n))
            .collect()
    }

    #[test]
    fn a_busy_webhook_takes_its_room_and_the_others_their_turns() {
        // Webhook 1 (environment 1) has 40 due since long ago.
        let waiting = vec![due(1, 1, 0, 40), due(2, 1, 50, 1), due(3, 2, 100, 3)];
        assert_eq!(
            shares(waiting.clone(), &limits(16, 4, 8)),
            [(1, 4), (2, 1), (3, 3)]
        );
        // Turns: with 3 slots, each webhook gets one before any gets two.
        assert_eq!(
            shares(waiting.clone(), &limits(3, 4, 8)),
            [(1, 1), (2, 1), (3, 1)]
        );
        // The environment bound holds across its webhooks.
        assert_eq!(shares(waiting, &limits(16, 4, 2)), [(1, 1), (2, 1), (3, 2)]);
    }

    #[test]
    fn deliveries_in_flight_count_against_the_room() {
        let waiting = vec![due(1, 1, 0, 40), due(2, 2, 50, 5)];
        let mut busy = limits(16, 4, 6);
        busy.in_flight_webhooks
            .insert(WebhookId::from_ulid(id(1)), 4);
        busy.in_flight_environments
            .insert(EnvironmentId::from_ulid(id(2)), 5);
        assert_eq!(
            shares(waiting.clone(), &busy),
            [(2, 1)],
            "webhook 1 is full"
        );
        busy.in_flight_environments
            .insert(EnvironmentId::from_ulid(id(2)), 9);
        assert!(
            shares(waiting, &busy).is_empty(),
            "over the bound: no room, no panic"
        );
    }

    #[test]
    fn without_bounds_the_oldest_webhook_comes_first_and_everything_fits() {
        let waiting = vec![due(2, 1, 50, 2), due(1, 1, 0, 3)];
        assert_eq!(
            shares(waiting.clone(), &ClaimLimits::only_total(100)),
            [(1, 3), (2, 2)]
        );
        assert_eq!(shares(waiting, &ClaimLimits::only_total(0)), []);
    }
}
