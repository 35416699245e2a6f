//! Change announcements between nodes: a committed change to a cached area
//! reaches every listener, a rolled-back one never does, and a listener that
//! lost its connection reconnects and reports that it may have missed some.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_adapters_postgres::ListenerConfig;
use portcullis_adapters_postgres::testing::TestDatabase;
use portcullis_domain::event::{AuditEvent, CachedArea, SYSTEM_ACTOR};
use portcullis_domain::{EnvironmentId, EventId};
use portcullis_ports::changes::ChangeSink;
use portcullis_ports::store::{StoreError, UnitOfWork};

use crate::support::{at, insert_environment, ulid};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Heard {
    Changed(EnvironmentId, CachedArea),
    Missed,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Heard>>);

impl ChangeSink for Recorder {
    fn changed(&self, environment: EnvironmentId, area: CachedArea) {
        self.0
            .lock()
            .unwrap()
            .push(Heard::Changed(environment, area));
    }

    fn missed(&self) {
        self.0.lock().unwrap().push(Heard::Missed);
    }
}

impl Recorder {
    /// Waits (5 s at most) until `n` signals arrived, then returns them all.
    fn wait_for(&self, n: usize) -> Vec<Heard> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let heard = self.0.lock().unwrap().clone();
            if heard.len() >= n || Instant::now() > deadline {
                return heard;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn fast() -> ListenerConfig {
    ListenerConfig {
        poll_interval: Duration::from_millis(10),
        check_interval: Duration::from_millis(100),
        retry_interval: Duration::from_millis(50),
    }
}

fn event(env: EnvironmentId, n: u64, resource_type: &str) -> AuditEvent {
    AuditEvent {
        id: EventId::from_ulid(ulid(n)),
        environment_id: env,
        event_type: format!("{resource_type}.updated"),
        actor: SYSTEM_ACTOR.into(),
        resource_type: resource_type.into(),
        resource_id: format!("r{n}"),
        data: "{}".into(),
        occurred_at: at(i64::try_from(n).unwrap()),
    }
}

#[derive(Debug)]
struct Abandoned;

impl From<StoreError> for Abandoned {
    fn from(_: StoreError) -> Self {
        Self
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_changes_to_cached_areas_reach_every_listener() {
    let db = TestDatabase::postgres();
    let store = db.store();
    let env = insert_environment(&store, "default").await.id;
    let (first, second) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let _a = store
        .listen_for_changes(first.clone(), fast())
        .unwrap()
        .unwrap();
    let _b = db
        .store()
        .listen_for_changes(second.clone(), fast())
        .unwrap()
        .unwrap();
    assert_eq!(first.wait_for(1), [Heard::Missed], "connected");
    assert_eq!(second.wait_for(1), [Heard::Missed], "connected");

    // A user change is nobody's cache; a rolled-back action change never
    // happened; then a committed client change and a key change.
    let user = event(env, 1, "user");
    store
        .transaction(move |tx| tx.append_event(&user))
        .await
        .unwrap();
    let action = event(env, 2, "action");
    store
        .transaction(move |tx| {
            tx.append_event(&action)?;
            Err::<(), _>(Abandoned)
        })
        .await
        .unwrap_err();
    let (client, key) = (event(env, 3, "client_grant"), event(env, 4, "signing_key"));
    store
        .transaction(move |tx| tx.append_event(&client))
        .await
        .unwrap();
    store
        .transaction(move |tx| tx.append_event(&key))
        .await
        .unwrap();

    let expected = [
        Heard::Missed,
        Heard::Changed(env, CachedArea::Clients),
        Heard::Changed(env, CachedArea::Keys),
    ];
    assert_eq!(first.wait_for(3), expected);
    assert_eq!(second.wait_for(3), expected);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(first.0.lock().unwrap().len(), 3, "nothing else arrives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_cut_off_reconnects_and_reports_what_it_may_have_missed() {
    let db = TestDatabase::postgres();
    let store = db.store();
    let env = insert_environment(&store, "default").await.id;
    let heard = Arc::new(Recorder::default());
    let listener = store
        .listen_for_changes(heard.clone(), fast())
        .unwrap()
        .unwrap();
    assert_eq!(heard.wait_for(1), [Heard::Missed]);

    db.set_reachable(false);
    std::thread::sleep(Duration::from_millis(300));
    db.set_reachable(true);
    assert_eq!(
        heard.wait_for(2),
        [Heard::Missed, Heard::Missed],
        "reconnected"
    );

    let action = event(env, 5, "action");
    // The pool's connections were ended too: retry until one is back.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let action = action.clone();
        match store.transaction(move |tx| tx.append_event(&action)).await {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the store did not come back: {error}"),
        }
    }
    assert_eq!(
        heard.wait_for(3),
        [
            Heard::Missed,
            Heard::Missed,
            Heard::Changed(env, CachedArea::Actions)
        ]
    );

    let stopped = Instant::now();
    drop(listener);
    assert!(stopped.elapsed() < Duration::from_secs(2), "stops promptly");
}

#[tokio::test]
async fn the_embedded_store_has_no_listener() {
    let db = TestDatabase::sqlite();
    let heard = Arc::new(Recorder::default());
    assert!(
        db.store()
            .listen_for_changes(heard, ListenerConfig::default())
            .unwrap()
            .is_none()
    );
}
