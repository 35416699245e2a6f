//! Changes made by other server nodes on the same store.
//!
//! Each node keeps some of the store in memory (signing keys, clients,
//! actions). A node that changes one of those announces it through the store
//! (see `EventRepo::append_event`); every node hears the announcement and
//! forgets what the change made stale. The store adapter listens and calls a
//! [`ChangeSink`]; the application implements it.

use portcullis_domain::EnvironmentId;
use portcullis_domain::event::CachedArea;

/// Receives the changes the store announces.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait ChangeSink: Send + Sync {
    /// A change to `area` of `environment` committed (on any node,
    /// this one included).
    fn changed(&self, environment: EnvironmentId, area: CachedArea);

    /// Announcements may have been missed (the listener lost its connection
    /// and is back): everything remembered must be forgotten.
    fn missed(&self);
}
