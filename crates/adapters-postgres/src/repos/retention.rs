//! [`RetentionRepo`] on [`DbTx`]: bounded deletes of expired opaque tokens,
//! old audit events without pending deliveries, and old delivery attempts.
//! Each batch reads the keys of at most `limit` rows, then deletes those
//! (`DELETE ... LIMIT` exists on neither backend's common dialect).

use diesel::prelude::*;
use portcullis_domain::Timestamp;
use portcullis_ports::store::{RetentionRepo, StoreError};

use super::DbTx;
use crate::schema::{access_tokens, events, webhook_deliveries, webhook_delivery_attempts};

/// Rows affected, as the port counts them.
fn count(rows: usize) -> u64 {
    u64::try_from(rows).unwrap_or(u64::MAX)
}

impl RetentionRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all)]
    fn purge_access_tokens(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let before = before.as_primitive();
        self.run(|conn| {
            let ids: Vec<String> = access_tokens::table
                .filter(access_tokens::expires_at.lt(before))
                .select(access_tokens::id)
                .limit(i64::from(limit))
                .load(conn)?;
            diesel::delete(access_tokens::table.filter(access_tokens::id.eq_any(&ids)))
                .execute(conn)
        })
        .map(count)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    fn purge_events(&mut self, before: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let before = before.as_primitive();
        self.run(|conn| {
            let pending = webhook_deliveries::table
                .filter(webhook_deliveries::status.eq("pending"))
                .select(webhook_deliveries::event_id);
            let batch = events::table
                .filter(events::occurred_at.lt(before))
                .filter(events::id.ne_all(pending))
                .order(events::id.asc())
                .select(events::id)
                .limit(i64::from(limit));
            let ids: Vec<String> = batch.load(conn)?;
            if ids.is_empty() {
                return Ok(0);
            }
            // Settled deliveries go with their event (the foreign key
            // cascades on PostgreSQL; said explicitly for both backends).
            diesel::delete(
                webhook_deliveries::table.filter(webhook_deliveries::event_id.eq_any(&ids)),
            )
            .execute(conn)?;
            diesel::delete(events::table.filter(events::id.eq_any(&ids))).execute(conn)
        })
        .map(count)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    fn purge_delivery_attempts(
        &mut self,
        before: Timestamp,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let before = before.as_primitive();
        self.run(|conn| {
            let ids: Vec<String> = webhook_delivery_attempts::table
                .filter(webhook_delivery_attempts::attempted_at.lt(before))
                .select(webhook_delivery_attempts::id)
                .limit(i64::from(limit))
                .load(conn)?;
            diesel::delete(
                webhook_delivery_attempts::table.filter(webhook_delivery_attempts::id.eq_any(&ids)),
            )
            .execute(conn)
        })
        .map(count)
    }
}
