//! The audit trail read back (`events`) and the catalog of event types
//! (`event_types`). Events are written by every other use case, in the
//! transaction of the change they record; nothing here writes.

use portcullis_domain::event::AuditEvent;
use portcullis_domain::{EventId, Timestamp};
use portcullis_ports::store::{EventQuery, StoreError, UnitOfWork};

use crate::Ports;
use crate::event_types::{self, EventType};
use crate::paging::{Page, PageParams};
use crate::principal::Actor;

/// Filters of an event listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events of this type.
    pub event_type: Option<String>,
    /// Only events about the resource with this id.
    pub resource_id: Option<String>,
    /// Only events that occurred at or after this instant.
    pub since: Option<Timestamp>,
}

/// Why an event or an event type could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventLookupError {
    /// No such event in the environment, or no such event type.
    #[error("not found")]
    NotFound,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The audit trail of an environment.
pub struct EventService<U> {
    ports: Ports<U>,
}

impl<U> std::fmt::Debug for EventService<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventService").finish_non_exhaustive()
    }
}

impl<U: UnitOfWork> EventService<U> {
    /// A service on `ports`.
    pub fn new(ports: Ports<U>) -> Self {
        Self { ports }
    }

    /// One event.
    ///
    /// # Errors
    /// [`EventLookupError`].
    pub async fn get(&self, actor: &Actor, id: EventId) -> Result<AuditEvent, EventLookupError> {
        let env = actor.environment_id();
        self.ports
            .store
            .read(move |tx| tx.find_event(env, id))
            .await?
            .ok_or(EventLookupError::NotFound)
    }

    /// One page of events, in the order they occurred (or the reverse).
    ///
    /// # Errors
    /// The store's failure.
    pub async fn list(
        &self,
        actor: &Actor,
        filter: EventFilter,
        page: PageParams,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let env = actor.environment_id();
        let query = EventQuery {
            event_type: filter.event_type,
            resource_id: filter.resource_id,
            since: filter.since,
            page: page.keyset(),
        };
        let rows = self
            .ports
            .store
            .read(move |tx| tx.list_events(env, &query))
            .await?;
        Ok(page.page(rows, |event| event.id.to_string()))
    }
}

/// One event type of the catalog.
///
/// # Errors
/// [`EventLookupError::NotFound`] for a name the server never emits.
pub fn event_type(name: &str) -> Result<&'static EventType, EventLookupError> {
    event_types::find(name).ok_or(EventLookupError::NotFound)
}

/// One page of the catalog, in its order (grouped by resource type); the
/// cursor is the last name shown.
///
/// # Errors
/// [`EventLookupError::NotFound`] when the cursor names no event type.
pub fn event_types(page: &PageParams) -> Result<Page<&'static EventType>, EventLookupError> {
    let catalog = event_types::catalog();
    let mut ordered: Vec<&'static EventType> = catalog.iter().collect();
    if page.descending {
        ordered.reverse();
    }
    let start = match &page.after {
        Some(after) => {
            ordered
                .iter()
                .position(|event| event.name == after)
                .ok_or(EventLookupError::NotFound)?
                + 1
        }
        None => 0,
    };
    let limit = usize::try_from(page.keyset().limit).unwrap_or(usize::MAX);
    let rows = ordered.into_iter().skip(start).take(limit).collect();
    Ok(page.page(rows, |event| event.name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(size: u32, after: Option<&str>, descending: bool) -> PageParams {
        PageParams {
            size,
            after: after.map(str::to_owned),
            descending,
        }
    }

    #[test]
    fn the_catalog_pages_in_order_with_a_name_cursor() {
        let first = event_types(&params(2, None, false)).unwrap();
        let names: Vec<_> = first.items.iter().map(|e| e.name).collect();
        assert_eq!(names, ["user.created", "user.updated"]);
        assert_eq!(first.next_after.as_deref(), Some("user.updated"));
        let second = event_types(&params(1, Some("user.updated"), false)).unwrap();
        assert_eq!(second.items[0].name, "user.deleted");
        let last = event_types(&params(500, None, true)).unwrap();
        assert_eq!(last.items.len(), event_types::catalog().len());
        assert_eq!(
            last.items[0].name,
            event_types::catalog().last().unwrap().name
        );
        assert_eq!(last.next_after, None);
        assert!(matches!(
            event_types(&params(2, Some("user.exploded"), false)),
            Err(EventLookupError::NotFound)
        ));
    }

    #[test]
    fn names_are_unique_and_name_their_resource_type() {
        let catalog = event_types::catalog();
        for (index, event) in catalog.iter().enumerate() {
            assert!(
                catalog[..index]
                    .iter()
                    .all(|other| other.name != event.name),
                "{} listed twice",
                event.name
            );
            let (resource, _) = event.name.split_once('.').unwrap();
            assert_eq!(resource, event.resource_type(), "{}", event.name);
            assert_eq!(event.schema()["properties"]["type"]["const"], resource);
        }
        assert!(event_type("invitation.accepted").is_ok());
        assert!(event_type("invitation.expired").is_err());
    }
}
