//! [`EventLogRepo`] on [`DbTx`]: the audit trail read back, newest or oldest
//! first by id (ULIDs: the order of occurrence), with keyset pages.

use diesel::prelude::*;
use portcullis_domain::event::AuditEvent;
use portcullis_domain::{EnvironmentId, EventId};
use portcullis_ports::store::{EventLogRepo, EventQuery, StoreError};

use super::DbTx;
use crate::rows::event_log::EventRow;
use crate::schema::events;

impl EventLogRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(event_id = %id))]
    fn find_event(
        &mut self,
        environment: EnvironmentId,
        id: EventId,
    ) -> Result<Option<AuditEvent>, StoreError> {
        let row = self.run(|conn| {
            events::table
                .filter(events::id.eq(id.to_string()))
                .filter(events::environment_id.eq(environment.to_string()))
                .select(EventRow::as_select())
                .first::<EventRow>(conn)
                .optional()
        })?;
        row.map(EventRow::into_domain).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(environment_id = %environment))]
    fn list_events(
        &mut self,
        environment: EnvironmentId,
        query: &EventQuery,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let page = &query.page;
        let texts = [query.event_type.as_deref(), query.resource_id.as_deref()];
        if texts.into_iter().flatten().any(|t| !super::storable(t)) {
            return Ok(Vec::new());
        }
        let mut select = events::table
            .filter(events::environment_id.eq(environment.to_string()))
            .select(EventRow::as_select())
            .into_boxed();
        if let Some(event_type) = &query.event_type {
            select = select.filter(events::event_type.eq(event_type.clone()));
        }
        if let Some(resource_id) = &query.resource_id {
            select = select.filter(events::resource_id.eq(resource_id.clone()));
        }
        if let Some(since) = query.since {
            select = select.filter(events::occurred_at.ge(since.as_primitive()));
        }
        let select = id_keyset!(select, events::id, page);
        let rows = self.run(|conn| select.load::<EventRow>(conn))?;
        rows.into_iter().map(EventRow::into_domain).collect()
    }
}
