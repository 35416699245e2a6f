//! [`EventRepo`] on [`DbTx`]: the audit trail, and the webhook outbox
//! filled in the same transaction.

use diesel::prelude::*;
use portcullis_domain::event::AuditEvent;
use portcullis_ports::store::{EventRepo, StoreError};

use super::DbTx;
use crate::conn::AnyConnection;
use crate::rows::event::NewEventRow;
use crate::rows::webhook::NewDeliveryRow;
use crate::schema::{events, webhook_deliveries, webhook_events, webhooks};

impl EventRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(event_type = %event.event_type))]
    fn append_event(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        let row = NewEventRow::from_domain(event);
        let event_id = event.id.to_string();
        let at = event.occurred_at.as_primitive();
        self.run(|conn| {
            diesel::insert_into(events::table)
                .values(&row)
                .execute(conn)?;
            // The outbox: one delivery per active subscribed webhook of the
            // environment, committed (or rolled back) with the event itself.
            let subscribers: Vec<String> = webhook_events::table
                .inner_join(webhooks::table)
                .filter(webhook_events::event_type.eq(&event.event_type))
                .filter(webhooks::environment_id.eq(event.environment_id.to_string()))
                .filter(webhooks::active.eq(true))
                .select(webhooks::id)
                .load(conn)?;
            for webhook_id in subscribers {
                diesel::insert_into(webhook_deliveries::table)
                    .values(&NewDeliveryRow {
                        webhook_id,
                        event_id: &event_id,
                        status: "pending",
                        attempts: 0,
                        next_attempt_at: at,
                        created_at: at,
                    })
                    .execute(conn)?;
            }
            Ok(())
        })?;
        if let Some(area) = event.cached_area() {
            let payload = crate::changes::payload(event.environment_id, area);
            // Delivered to every listening node when (and only if) this
            // transaction commits; SQLite has a single node.
            self.run(|conn| match conn {
                AnyConnection::Postgres(pg) => diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<diesel::sql_types::Text, _>(crate::changes::CHANNEL)
                    .bind::<diesel::sql_types::Text, _>(&payload)
                    .execute(pg)
                    .map(drop),
                AnyConnection::Sqlite(_) => Ok(()),
            })?;
        }
        Ok(())
    }
}
