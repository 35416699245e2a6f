//! `events` rows (append only: the ports have no read of the trail yet).

use diesel::prelude::*;
use portcullis_domain::event::AuditEvent;
use time::PrimitiveDateTime;

use crate::schema::events;

/// An event to append.
#[derive(Insertable)]
#[diesel(table_name = events)]
pub(crate) struct NewEventRow<'a> {
    id: String,
    environment_id: String,
    event_type: &'a str,
    actor: &'a str,
    resource_type: &'a str,
    resource_id: &'a str,
    data: &'a str,
    occurred_at: PrimitiveDateTime,
}

impl<'a> NewEventRow<'a> {
    /// The row of `event`.
    pub(crate) fn from_domain(event: &'a AuditEvent) -> Self {
        Self {
            id: event.id.to_string(),
            environment_id: event.environment_id.to_string(),
            event_type: &event.event_type,
            actor: &event.actor,
            resource_type: &event.resource_type,
            resource_id: &event.resource_id,
            data: &event.data,
            occurred_at: event.occurred_at.as_primitive(),
        }
    }
}
