//! `events` rows as read back for the audit trail.

use diesel::prelude::*;
use portcullis_domain::event::AuditEvent;
use portcullis_domain::{EnvironmentId, EventId, Timestamp};
use portcullis_ports::store::StoreError;
use time::PrimitiveDateTime;

use super::parse_id;
use crate::error::corrupt;
use crate::schema::events;

/// A stored event.
#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct EventRow {
    id: String,
    environment_id: String,
    event_type: String,
    actor: String,
    resource_type: String,
    resource_id: String,
    data: String,
    occurred_at: PrimitiveDateTime,
}

impl EventRow {
    /// The domain record; its `data` must be JSON.
    pub(crate) fn into_domain(self) -> Result<AuditEvent, StoreError> {
        if serde_json::from_str::<serde_json::Value>(&self.data).is_err() {
            return Err(corrupt("events", "data", "not JSON"));
        }
        Ok(AuditEvent {
            id: parse_id("events", "id", &self.id, EventId::parse)?,
            environment_id: parse_id(
                "events",
                "environment_id",
                &self.environment_id,
                EnvironmentId::parse,
            )?,
            event_type: self.event_type,
            actor: self.actor,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            data: self.data,
            occurred_at: Timestamp::from_primitive(self.occurred_at),
        })
    }
}
