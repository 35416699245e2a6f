//! The clock and the id source: the only non-determinism the core sees.

use portcullis_domain::Timestamp;

/// Tells the time.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// Draws new identifiers.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait IdGen: Send + Sync + 'static {
    /// A new ULID, greater than every ULID this source returned before in the
    /// process, so that ids sort in creation order.
    fn next_ulid(&self) -> ulid::Ulid;
}
