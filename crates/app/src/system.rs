//! The clock and the id source of the running process.

use std::sync::Mutex;

use portcullis_domain::Timestamp;
use portcullis_ports::{Clock, IdGen};

/// Reads the system clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_offset(time::OffsetDateTime::now_utc())
    }
}

/// Monotonic ULIDs: within one millisecond, each id is the previous plus one,
/// so ids sort in creation order.
#[derive(Debug, Default)]
pub struct MonotonicUlids {
    generator: Mutex<ulid::Generator>,
}

impl IdGen for MonotonicUlids {
    fn next_ulid(&self) -> ulid::Ulid {
        let mut generator = self
            .generator
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Overflow needs 2^80 ids in one millisecond; fall back to a fresh random id then.
        generator
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::generate())
    }
}
