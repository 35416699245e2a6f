//! # portcullis-ports
//!
//! The traits the application core needs from the outside world: storage
//! (repositories reached through a unit of work), cryptography, the clock,
//! the id source, and the sandbox that runs operator-written actions.
//! Adapters implement them; the core never names an adapter.
//! With the `mock` feature, mockall mocks of every port and an inline unit of
//! work are exported for other crates' tests.
#![deny(missing_docs)]

pub mod actions;
pub mod changes;
pub mod crypto;
pub mod store;
mod system;
#[cfg(any(test, feature = "mock"))]
pub mod testing;
pub mod webhooks;

pub use system::{Clock, IdGen};
#[cfg(any(test, feature = "mock"))]
pub use system::{MockClock, MockIdGen};
