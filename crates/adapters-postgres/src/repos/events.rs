//! [`EventRepo`] on [`DbTx`].

use diesel::prelude::*;
use portcullis_domain::event::AuditEvent;
use portcullis_ports::store::{EventRepo, StoreError};

use super::DbTx;
use crate::rows::event::NewEventRow;
use crate::schema::events;

impl EventRepo for DbTx<'_> {
    #[tracing::instrument(level = "debug", skip_all, fields(event_type = %event.event_type))]
    fn append_event(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        let row = NewEventRow::from_domain(event);
        self.run(|conn| {
            diesel::insert_into(events::table)
                .values(&row)
                .execute(conn)
        })?;
        Ok(())
    }
}
