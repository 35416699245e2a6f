//! Change announcements between server nodes on one PostgreSQL database.
//!
//! `append_event` sends `pg_notify` for changes to what nodes cache (see
//! `AuditEvent::cached_area`); PostgreSQL delivers it to every listening
//! session when the transaction commits, and never when it rolls back. Each
//! node runs one [`ChangeListener`]: a thread with its own connection (not a
//! pooled one) that `LISTEN`s, polls for notifications every
//! `poll_interval` (reading the socket without a round trip), checks the
//! connection every `check_interval`, and reconnects when it is lost. After
//! every (re)connection it tells the sink that announcements may have been
//! missed, so that a node cut off from the database never keeps stale
//! entries past its reconnection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use portcullis_domain::EnvironmentId;
use portcullis_domain::event::CachedArea;
use portcullis_ports::changes::ChangeSink;

/// The notification channel.
pub(crate) const CHANNEL: &str = "portcullis_changes";

/// The payload announcing a change: `<environment id> <area>`.
pub(crate) fn payload(environment: EnvironmentId, area: CachedArea) -> String {
    format!("{environment} {}", area.as_str())
}

fn parse(payload: &str) -> Option<(EnvironmentId, CachedArea)> {
    let (environment, area) = payload.split_once(' ')?;
    Some((
        EnvironmentId::parse(environment).ok()?,
        CachedArea::parse(area)?,
    ))
}

/// How often the listener looks for announcements and checks its connection.
#[derive(Clone, Copy, Debug)]
pub struct ListenerConfig {
    /// Between two reads of pending notifications: the bound on how late
    /// another node's change is honoured here.
    pub poll_interval: Duration,
    /// Between two round trips checking that the connection is alive.
    pub check_interval: Duration,
    /// Between two connection attempts while the database is unreachable.
    pub retry_interval: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(50),
            check_interval: Duration::from_secs(2),
            retry_interval: Duration::from_millis(500),
        }
    }
}

/// A running listener. Dropping it stops the thread (within one poll
/// interval) and waits for it.
#[derive(Debug)]
pub struct ChangeListener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ChangeListener {
    /// Starts listening on `url` (a PostgreSQL URL) and hands every
    /// announcement to `sink`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub(crate) fn start(
        url: String,
        sink: Arc<dyn ChangeSink>,
        config: ListenerConfig,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("change-listener".into())
            .spawn(move || listen(&url, sink.as_ref(), config, &stopping))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for ChangeListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Connects, listens until the connection fails, and starts again, until
/// `stop` is set.
fn listen(url: &str, sink: &dyn ChangeSink, config: ListenerConfig, stop: &AtomicBool) {
    let mut reported_down = false;
    while !stop.load(Ordering::Acquire) {
        let mut conn = match PgConnection::establish(url)
            .map_err(|e| e.to_string())
            .and_then(|mut conn| {
                conn.batch_execute(&format!("LISTEN {CHANNEL}"))
                    .map(|()| conn)
                    .map_err(|e| e.to_string())
            }) {
            Ok(conn) => conn,
            Err(error) => {
                if !reported_down {
                    tracing::warn!(%error, "change listener cannot connect; retrying");
                    reported_down = true;
                }
                pause(config.retry_interval, stop);
                continue;
            }
        };
        reported_down = false;
        tracing::debug!("change listener connected");
        // Whatever was announced while this node was not listening is lost.
        sink.missed();
        if let Err(error) = receive(&mut conn, sink, config, stop) {
            tracing::warn!(%error, "change listener lost its connection; reconnecting");
        }
    }
}

/// Hands notifications to `sink` until the connection fails or `stop` is set.
fn receive(
    conn: &mut PgConnection,
    sink: &dyn ChangeSink,
    config: ListenerConfig,
    stop: &AtomicBool,
) -> diesel::QueryResult<()> {
    let mut checked = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let mut pending = Vec::new();
        for notification in conn.notifications_iter() {
            pending.push(notification?);
        }
        for notification in pending {
            match parse(&notification.payload) {
                Some((environment, area)) => sink.changed(environment, area),
                None => tracing::warn!(
                    payload = %notification.payload,
                    "ignoring an unreadable change announcement"
                ),
            }
        }
        if checked.elapsed() >= config.check_interval {
            conn.batch_execute("SELECT 1")?;
            checked = Instant::now();
        }
        pause(config.poll_interval, stop);
    }
    Ok(())
}

/// Sleeps `duration`, waking early when `stop` is set.
fn pause(duration: Duration, stop: &AtomicBool) {
    let deadline = Instant::now() + duration;
    while !stop.load(Ordering::Acquire) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_garbage_is_refused() {
        let env = EnvironmentId::from_ulid(ulid::Ulid::from_parts(7, 7));
        for area in CachedArea::ALL {
            assert_eq!(parse(&payload(env, area)), Some((env, area)));
        }
        assert_eq!(parse("nonsense"), None);
        assert_eq!(parse(&format!("{env} users")), None);
        assert_eq!(parse("not-an-id keys"), None);
    }
}
