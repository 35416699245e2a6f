//! The circuit breaker that makes a database outage answer at once.
//!
//! Without it, every unit of work during an outage waits for a connection
//! the pool cannot open, until the checkout timeout, and callers queue
//! behind those that wait. With it:
//!
//! - **closed** (normal): calls go through;
//! - a call that cannot get a connection within the checkout timeout
//!   **opens** it: for `open_for`, every call is refused at once
//!   (`StoreError::Unavailable`), including those already waiting for a
//!   pooled connection;
//! - once `open_for` has passed, the next call is let through as the
//!   **probe** (the others are still refused): if it gets a connection the
//!   breaker closes, otherwise it opens again. A probe that never reports
//!   (it cannot: it runs to the end on the blocking pool, but to be safe)
//!   is replaced after `stale_probe`.
//!
//! Only failures to obtain a connection open it: a query error on a live
//! connection (a conflict, a serialization failure, SQLite busy) says
//! nothing about whether the database is reachable.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The state of the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Calls go through.
    Closed,
    /// Calls are refused until `until`.
    Open { until: Instant },
    /// One call, started at `since`, is finding out whether the database is back.
    Probing { since: Instant },
}

/// What a call may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go on (the breaker is closed).
    Pass,
    /// Go on as the probe: report the outcome.
    Probe,
    /// Refused: the database is known to be unreachable.
    Refuse,
}

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct Breaker {
    state: Mutex<State>,
    open_for: Duration,
    stale_probe: Duration,
    /// Woken when the breaker opens, so that calls waiting for a pooled
    /// connection give up at once.
    pub(crate) opened: Notify,
}

/// The breaker refused a call.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database could not be reached a moment ago; calls are refused for {0} ms after such a failure, then one is let through to try again"
)]
pub(crate) struct CircuitOpen(pub(crate) u128);

impl Breaker {
    /// A closed breaker; `open_for` zero turns it off (it never opens).
    pub(crate) fn new(open_for: Duration, stale_probe: Duration) -> Self {
        Self {
            state: Mutex::new(State::Closed),
            open_for,
            stale_probe,
            opened: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value: a panic elsewhere cannot leave it half-written.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a call made at `now` would be refused, without taking the
    /// probe's place.
    pub(crate) fn refuses(&self, now: Instant) -> bool {
        match *self.state() {
            State::Closed => false,
            State::Open { until } => now < until,
            State::Probing { since } => now < since + self.stale_probe,
        }
    }

    /// Admits or refuses a call made at `now`; the first call after the
    /// open period becomes the probe.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut state = self.state();
        match *state {
            State::Closed => Admission::Pass,
            State::Open { until } if now < until => Admission::Refuse,
            State::Probing { since } if now < since + self.stale_probe => Admission::Refuse,
            State::Open { .. } | State::Probing { .. } => {
                *state = State::Probing { since: now };
                Admission::Probe
            }
        }
    }

    /// A call got a connection: the database is reachable.
    pub(crate) fn connected(&self) {
        let mut state = self.state();
        if *state != State::Closed {
            *state = State::Closed;
            tracing::info!("database reachable again: store calls go through");
        }
    }

    /// A call could not get a connection at `now`: refuse calls for the
    /// open period.
    pub(crate) fn failed(&self, now: Instant) {
        if self.open_for.is_zero() {
            return;
        }
        {
            let mut state = self.state();
            if *state == State::Closed {
                tracing::warn!(
                    open_ms = self.open_for.as_millis(),
                    "database unreachable: store calls are refused at once until a probe gets a connection"
                );
            }
            *state = State::Open {
                until: now + self.open_for,
            };
        }
        self.opened.notify_waiters();
    }

    /// The error a refused call returns.
    pub(crate) fn refusal(&self) -> CircuitOpen {
        CircuitOpen(self.open_for.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Duration = Duration::from_millis(1000);
    const STALE: Duration = Duration::from_millis(5000);

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn closed_lets_every_call_through() {
        let breaker = Breaker::new(OPEN, STALE);
        let t = Instant::now();
        assert_eq!(breaker.admit(t), Admission::Pass);
        assert!(!breaker.refuses(t));
        breaker.connected();
        assert_eq!(breaker.admit(t), Admission::Pass);
    }

    #[test]
    fn a_failure_refuses_calls_then_lets_one_probe_through() {
        let breaker = Breaker::new(OPEN, STALE);
        let t = Instant::now();
        breaker.failed(t);
        assert!(breaker.refuses(at(t, 1)));
        assert_eq!(breaker.admit(at(t, 999)), Admission::Refuse);
        assert!(!breaker.refuses(at(t, 1000)), "the probe may go");
        assert_eq!(breaker.admit(at(t, 1000)), Admission::Probe);
        // Only one probe at a time.
        assert!(breaker.refuses(at(t, 1001)));
        assert_eq!(breaker.admit(at(t, 1001)), Admission::Refuse);
        breaker.connected();
        assert_eq!(breaker.admit(at(t, 1002)), Admission::Pass);
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let breaker = Breaker::new(OPEN, STALE);
        let t = Instant::now();
        breaker.failed(t);
        assert_eq!(breaker.admit(at(t, 1000)), Admission::Probe);
        breaker.failed(at(t, 2000));
        assert_eq!(breaker.admit(at(t, 2999)), Admission::Refuse);
        assert_eq!(breaker.admit(at(t, 3000)), Admission::Probe);
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced() {
        let breaker = Breaker::new(OPEN, STALE);
        let t = Instant::now();
        breaker.failed(t);
        assert_eq!(breaker.admit(at(t, 1000)), Admission::Probe);
        assert_eq!(breaker.admit(at(t, 5999)), Admission::Refuse);
        assert_eq!(breaker.admit(at(t, 6000)), Admission::Probe);
    }

    #[test]
    fn a_zero_open_period_turns_it_off() {
        let breaker = Breaker::new(Duration::ZERO, STALE);
        let t = Instant::now();
        breaker.failed(t);
        assert_eq!(breaker.admit(t), Admission::Pass);
    }

    #[tokio::test]
    async fn opening_wakes_the_calls_waiting_for_a_connection() {
        let breaker = Breaker::new(OPEN, STALE);
        let opened = breaker.opened.notified();
        tokio::pin!(opened);
        opened.as_mut().enable();
        breaker.failed(Instant::now());
        assert!(
            tokio::time::timeout(Duration::from_secs(5), opened)
                .await
                .is_ok(),
            "woken"
        );
    }
}
