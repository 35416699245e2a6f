//! Running actions on their triggers, and recording each run.
//!
//! - The action of a trigger is looked up through the [`ActionMemo`], so
//!   the token path reads no store for it (an environment without an
//!   action is remembered too).
//! - `pre_token`: the returned `claims` are merged into the token's claims;
//!   a reserved claim
//!   ([`portcullis_domain::action::RESERVED_CLAIMS`]) keeps the server's value and the
//!   attempt is noted in the run's record. A throw refuses the token with
//!   the thrown message; a crash, a timeout, the memory limit or an unusable
//!   return value is a server error.
//! - Every run is recorded by the [`ExecutionRecorder`]: a bounded channel
//!   drained by one background writer in batches, so that issuing a token
//!   never waits for a database write. When the channel is full (the store
//!   is far behind), records are dropped and counted rather than slowing
//!   token issuance down.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_domain::action::{
    Action, ActionExecution, ExecutionOutcome, Trigger, is_reserved_claim,
};
use portcullis_domain::{ActionExecutionId, EnvironmentId};
use portcullis_ports::actions::{ActionOutcome, ActionRunner, ActionScript};
use portcullis_ports::store::{StoreError, UnitOfWork};
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::Ports;
use crate::actions::ActionMemo;

/// Largest claims object an action may add, serialized (the token grows by it).
pub const MAX_ADDED_CLAIMS_BYTES: usize = 16 * 1024;
/// Longest `error` kept in a run's record.
const MAX_ERROR_CHARS: usize = 1000;
/// Runs written in one transaction at most.
const BATCH: usize = 256;

/// Why a `pre_token` action did not let the token through.
#[derive(Debug, thiserror::Error)]
pub enum PreTokenError {
    /// The action threw: the token is refused (`access_denied`) with its message.
    #[error("{0}")]
    Denied(String),
    /// The action crashed, hit a limit or returned something unusable (`server_error`).
    #[error("the pre_token action failed: {0}")]
    Failed(String),
    /// The action could not be looked up.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a `pre_token` action sees of the token being issued.
#[derive(Debug, Clone)]
pub struct PreTokenEvent {
    /// `{ id, client_id, name }` of the client.
    pub client: Value,
    /// `{ id, identifier }` of the resource server (the audience).
    pub resource_server: Value,
    /// The granted scopes.
    pub scopes: Vec<String>,
}

/// Records runs without making their caller wait for the store.
#[derive(Debug)]
pub struct ExecutionRecorder {
    sender: mpsc::Sender<ActionExecution>,
    dropped: AtomicU64,
}

impl ExecutionRecorder {
    /// A recorder holding at most `capacity` unwritten runs, and the writer
    /// future the composition root spawns: it writes the runs in batches,
    /// keeps the `keep` most recent runs of each action, and ends when the
    /// recorder is dropped (after writing what is left).
    pub fn new<U: UnitOfWork>(
        store: Arc<U>,
        capacity: usize,
        keep: u32,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let recorder = Self {
            sender,
            dropped: AtomicU64::new(0),
        };
        (recorder, drain(receiver, store, keep))
    }

    /// Queues a run for writing; drops it (and counts it) when the queue is full.
    pub fn record(&self, execution: ActionExecution) {
        if self.sender.try_send(execution).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "action execution records dropped: the writer is behind"
                );
            }
        }
    }

    /// Runs dropped so far because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn drain<U: UnitOfWork>(
    mut receiver: mpsc::Receiver<ActionExecution>,
    store: Arc<U>,
    keep: u32,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        write(&store, std::mem::take(&mut batch), keep).await;
    }
}

/// Writes a batch and prunes its actions' old runs in one transaction; when
/// an action was deleted meanwhile (its runs went with it), the others are
/// written one by one.
async fn write<U: UnitOfWork>(store: &Arc<U>, batch: Vec<ActionExecution>, keep: u32) {
    let actions: BTreeSet<_> = batch.iter().map(|e| e.action_id).collect();
    let rows = batch.clone();
    let written = store
        .transaction(move |tx| {
            tx.insert_action_executions(&rows)?;
            for action in actions {
                tx.prune_action_executions(action, keep)?;
            }
            Ok::<_, StoreError>(())
        })
        .await;
    match written {
        Ok(()) => {}
        Err(StoreError::MissingReference) if batch.len() > 1 => {
            for execution in batch {
                let row = [execution];
                let single = store
                    .transaction(move |tx| tx.insert_action_executions(&row))
                    .await;
                if let Err(error) = single
                    && !matches!(error, StoreError::MissingReference)
                {
                    tracing::warn!(error = %error, "an action execution was not recorded");
                }
            }
        }
        Err(StoreError::MissingReference) => {}
        Err(error) => {
            tracing::warn!(error = %error, count = batch.len(), "action executions were not recorded");
        }
    }
}

/// Runs the actions of the triggers.
pub struct ActionEngine<U> {
    ports: Ports<U>,
    runner: Arc<dyn ActionRunner>,
    memo: Arc<ActionMemo>,
    recorder: Arc<ExecutionRecorder>,
}

impl<U> std::fmt::Debug for ActionEngine<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionEngine").finish_non_exhaustive()
    }
}

/// The claims after an accepted return value, and the reserved ones it tried to change.
fn merge(claims: &mut Map<String, Value>, returned: Value) -> Result<Vec<String>, String> {
    let added = match returned {
        Value::Null => return Ok(Vec::new()),
        Value::Object(mut object) => match object.remove("claims") {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Object(added)) => added,
            Some(_) => return Err("the returned `claims` must be an object".into()),
        },
        _ => return Err("the action must return an object (or nothing)".into()),
    };
    let size = Value::Object(added.clone()).to_string().len();
    if size > MAX_ADDED_CLAIMS_BYTES {
        return Err(format!(
            "the returned claims take {size} bytes; at most {MAX_ADDED_CLAIMS_BYTES} are accepted"
        ));
    }
    let mut ignored = Vec::new();
    for (name, value) in added {
        if is_reserved_claim(&name) {
            if claims.get(&name) != Some(&value) {
                ignored.push(name);
            }
        } else {
            claims.insert(name, value);
        }
    }
    // Stable whatever the map's order (serde_json's `preserve_order` may be
    // on in a build that unifies features).
    ignored.sort();
    Ok(ignored)
}

fn cut(mut text: String) -> String {
    if let Some((at, _)) = text.char_indices().nth(MAX_ERROR_CHARS) {
        text.truncate(at);
    }
    text
}

impl<U: UnitOfWork> ActionEngine<U> {
    /// An engine running code with `runner`, finding actions through `memo`
    /// (shared with the actions collection, which invalidates it) and
    /// recording runs with `recorder`.
    pub fn new(
        ports: Ports<U>,
        runner: Arc<dyn ActionRunner>,
        memo: Arc<ActionMemo>,
        recorder: Arc<ExecutionRecorder>,
    ) -> Self {
        Self {
            ports,
            runner,
            memo,
            recorder,
        }
    }

    /// The enabled action of a trigger, if any.
    async fn enabled(
        &self,
        environment: EnvironmentId,
        trigger: Trigger,
    ) -> Result<Option<Arc<Action>>, StoreError> {
        let now = self.ports.clock.now();
        let found = match self.memo.get(environment, trigger, now) {
            Some(hit) => hit,
            None => {
                let generation = self.memo.generation();
                let loaded = self
                    .ports
                    .store
                    .read(move |tx| tx.find_action_by_trigger(environment, trigger))
                    .await?
                    .map(Arc::new);
                self.memo
                    .remember(generation, (environment, trigger), loaded.clone(), now);
                loaded
            }
        };
        Ok(found.filter(|action| action.enabled))
    }

    fn record(
        &self,
        action: &Action,
        outcome: ExecutionOutcome,
        millis: u128,
        error: Option<String>,
    ) {
        // Through the `metrics` facade; the binary installs the exporter.
        metrics::counter!(
            "portcullis_action_runs_total",
            "trigger" => action.trigger.as_str(),
            "outcome" => outcome.as_str()
        )
        .increment(1);
        #[expect(clippy::cast_precision_loss, reason = "milliseconds of one run")]
        metrics::histogram!("portcullis_action_run_duration_seconds")
            .record(millis as f64 / 1000.0);
        self.recorder.record(ActionExecution {
            id: ActionExecutionId::from_ulid(self.ports.ids.next_ulid()),
            environment_id: action.environment_id,
            action_id: action.id,
            outcome,
            duration_ms: u32::try_from(millis).unwrap_or(u32::MAX),
            error: error.map(cut),
            executed_at: self.ports.clock.now(),
        });
    }

    /// Runs the environment's enabled `pre_token` action, if any, on the
    /// token's `claims`, merging what it returns.
    ///
    /// # Errors
    /// [`PreTokenError`].
    pub async fn pre_token(
        &self,
        environment: EnvironmentId,
        event: PreTokenEvent,
        claims: &mut Map<String, Value>,
    ) -> Result<(), PreTokenError> {
        let Some(action) = self.enabled(environment, Trigger::PreToken).await? else {
            return Ok(());
        };
        let mut payload = Map::new();
        payload.insert("trigger".into(), Value::from(Trigger::PreToken.as_str()));
        payload.insert("client".into(), event.client);
        payload.insert("resource_server".into(), event.resource_server);
        payload.insert("scopes".into(), Value::from(event.scopes));
        payload.insert("claims".into(), Value::Object(claims.clone()));
        let script = ActionScript {
            environment,
            key: action.version_key(),
            code: Arc::from(action.code.as_str()),
        };
        let run = self.runner.run(script, Value::Object(payload)).await;
        let millis = run.duration.as_millis();
        let (outcome, error, result) = match run.outcome {
            ActionOutcome::Returned(value) => match merge(claims, value) {
                Ok(ignored) if ignored.is_empty() => (ExecutionOutcome::Ok, None, Ok(())),
                Ok(ignored) => (
                    ExecutionOutcome::Ok,
                    Some(format!(
                        "reserved claims cannot be changed; ignored: {}",
                        ignored.join(", ")
                    )),
                    Ok(()),
                ),
                Err(message) => (
                    ExecutionOutcome::Error,
                    Some(message.clone()),
                    Err(PreTokenError::Failed(message)),
                ),
            },
            ActionOutcome::Threw(message) => (
                ExecutionOutcome::Error,
                Some(message.clone()),
                Err(PreTokenError::Denied(cut(message))),
            ),
            ActionOutcome::Failed(message) => (
                ExecutionOutcome::Error,
                Some(message.clone()),
                Err(PreTokenError::Failed(message)),
            ),
            ActionOutcome::Timeout => (
                ExecutionOutcome::Timeout,
                Some("the action did not finish within the time limit".into()),
                Err(PreTokenError::Failed("timeout".into())),
            ),
            ActionOutcome::Memory => (
                ExecutionOutcome::Memory,
                Some("the action went over the memory limit".into()),
                Err(PreTokenError::Failed("memory limit".into())),
            ),
        };
        self.record(&action, outcome, millis, error);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::{fixed_ports, now};
    use portcullis_domain::action::{ActionCode, ActionName, NewAction};
    use portcullis_domain::{ActionId, Timestamp};
    use portcullis_ports::actions::{ActionRun, MockActionRunner};
    use portcullis_ports::testing::{InlineUow, MockTx};
    use serde_json::json;

    fn env() -> EnvironmentId {
        EnvironmentId::from_ulid(ulid::Ulid::from_parts(9, 9))
    }

    fn action(enabled: bool) -> Action {
        Action::create(
            ActionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            env(),
            NewAction {
                name: ActionName::parse("Claims").unwrap(),
                trigger: Trigger::PreToken,
                code: ActionCode::parse("export default () => ({})").unwrap(),
                enabled,
            },
            Timestamp::from_unix_micros(1).unwrap(),
        )
    }

    fn token_claims() -> Map<String, Value> {
        let Value::Object(claims) = json!({
            "iss": "http://localhost", "sub": "machine", "aud": "https://api",
            "client_id": "machine", "scope": "read", "iat": 1, "exp": 2, "jti": "j"
        }) else {
            unreachable!()
        };
        claims
    }

    fn event() -> PreTokenEvent {
        PreTokenEvent {
            client: json!({ "id": "c", "client_id": "machine", "name": "Machine" }),
            resource_server: json!({ "id": "r", "identifier": "https://api" }),
            scopes: vec!["read".into()],
        }
    }

    struct Harness {
        engine: ActionEngine<InlineUow>,
        recorded: mpsc::Receiver<ActionExecution>,
    }

    fn harness(found: Option<Action>, outcome: Option<ActionOutcome>, reads: usize) -> Harness {
        let mut tx = MockTx::new();
        tx.expect_find_action_by_trigger()
            .times(reads)
            .returning(move |_, _| Ok(found.clone()));
        let mut runner = MockActionRunner::new();
        match outcome {
            Some(outcome) => {
                runner
                    .expect_run()
                    .withf(|script, event| {
                        event["claims"]["sub"] == "machine"
                            && event["client"]["client_id"] == "machine"
                            && event["resource_server"]["identifier"] == "https://api"
                            && event["scopes"] == json!(["read"])
                            && script.key == action(true).version_key()
                            && script.environment == env()
                    })
                    .returning(move |_, _| ActionRun {
                        outcome: outcome.clone(),
                        duration: Duration::from_millis(7),
                    });
            }
            None => {
                runner.expect_run().never();
            }
        }
        let uow = InlineUow::new(tx);
        let ports = fixed_ports(uow.clone(), None);
        let (sender, recorded) = mpsc::channel(16);
        let recorder = Arc::new(ExecutionRecorder {
            sender,
            dropped: AtomicU64::new(0),
        });
        Harness {
            engine: ActionEngine::new(
                ports,
                Arc::new(runner),
                Arc::new(ActionMemo::new(30)),
                recorder,
            ),
            recorded,
        }
    }

    async fn run(harness: &Harness) -> (Result<(), PreTokenError>, Map<String, Value>) {
        let mut claims = token_claims();
        let result = harness.engine.pre_token(env(), event(), &mut claims).await;
        (result, claims)
    }

    #[tokio::test]
    async fn returned_claims_are_merged_and_the_run_recorded() {
        let mut harness = harness(
            Some(action(true)),
            Some(ActionOutcome::Returned(
                json!({ "claims": { "tier": "gold", "roles": ["a"] } }),
            )),
            1,
        );
        let (result, claims) = run(&harness).await;
        result.unwrap();
        assert_eq!(claims["tier"], "gold");
        assert_eq!(claims["roles"], json!(["a"]));
        assert_eq!(claims["sub"], "machine");
        let record = harness.recorded.try_recv().unwrap();
        assert_eq!(record.outcome, ExecutionOutcome::Ok);
        assert_eq!(record.duration_ms, 7);
        assert_eq!(record.error, None);
        assert_eq!(record.executed_at, now());
    }

    #[tokio::test]
    async fn reserved_claims_keep_the_server_value_and_the_attempt_is_noted() {
        let mut harness = harness(
            Some(action(true)),
            Some(ActionOutcome::Returned(json!({ "claims": {
                "sub": "someone-else", "iss": "http://localhost", "scope": "admin", "extra": 1
            } }))),
            1,
        );
        let (result, claims) = run(&harness).await;
        result.unwrap();
        assert_eq!(claims["sub"], "machine");
        assert_eq!(claims["scope"], "read");
        assert_eq!(claims["extra"], 1);
        let record = harness.recorded.try_recv().unwrap();
        assert_eq!(record.outcome, ExecutionOutcome::Ok);
        assert_eq!(
            record.error.as_deref(),
            Some("reserved claims cannot be changed; ignored: scope, sub"),
            "an unchanged iss is not an attempt"
        );
    }

    #[tokio::test]
    async fn a_throw_denies_and_failures_are_server_errors_all_recorded() {
        for (outcome, recorded) in [
            (
                ActionOutcome::Threw("no tokens on sunday".into()),
                ExecutionOutcome::Error,
            ),
            (
                ActionOutcome::Failed("TypeError: x".into()),
                ExecutionOutcome::Error,
            ),
            (ActionOutcome::Timeout, ExecutionOutcome::Timeout),
            (ActionOutcome::Memory, ExecutionOutcome::Memory),
            (ActionOutcome::Returned(json!(5)), ExecutionOutcome::Error),
            (
                ActionOutcome::Returned(json!({ "claims": [1] })),
                ExecutionOutcome::Error,
            ),
            (
                ActionOutcome::Returned(
                    json!({ "claims": { "big": "x".repeat(MAX_ADDED_CLAIMS_BYTES) } }),
                ),
                ExecutionOutcome::Error,
            ),
        ] {
            let denied = matches!(outcome, ActionOutcome::Threw(_));
            let mut harness = harness(Some(action(true)), Some(outcome.clone()), 1);
            let (result, claims) = run(&harness).await;
            match result {
                Err(PreTokenError::Denied(message)) => {
                    assert!(denied);
                    assert_eq!(message, "no tokens on sunday");
                }
                Err(PreTokenError::Failed(_)) => assert!(!denied, "{outcome:?}"),
                other => panic!("unexpected {other:?} for {outcome:?}"),
            }
            assert_eq!(claims, token_claims(), "nothing merged");
            let record = harness.recorded.try_recv().unwrap();
            assert_eq!(record.outcome, recorded, "{outcome:?}");
            assert!(record.error.is_some());
        }
    }

    #[tokio::test]
    async fn nothing_runs_without_an_enabled_action_and_the_lookup_is_remembered() {
        let mut harness = harness(Some(action(false)), None, 1);
        for _ in 0..3 {
            let (result, claims) = run(&harness).await;
            result.unwrap();
            assert_eq!(claims, token_claims());
        }
        assert!(
            harness.recorded.try_recv().is_err(),
            "a disabled action records nothing"
        );
        let harness = harness_none();
        run(&harness).await.0.unwrap();
        run(&harness).await.0.unwrap();
    }

    fn harness_none() -> Harness {
        harness(None, None, 1)
    }

    #[tokio::test]
    async fn a_full_queue_drops_records_instead_of_waiting() {
        let (sender, _receiver) = mpsc::channel(1);
        let recorder = ExecutionRecorder {
            sender,
            dropped: AtomicU64::new(0),
        };
        let record = ActionExecution {
            id: ActionExecutionId::from_ulid(ulid::Ulid::from_parts(1, 1)),
            environment_id: env(),
            action_id: action(true).id,
            outcome: ExecutionOutcome::Ok,
            duration_ms: 1,
            error: None,
            executed_at: now(),
        };
        recorder.record(record.clone());
        recorder.record(record.clone());
        recorder.record(record);
        assert_eq!(recorder.dropped(), 2);
    }

    #[tokio::test]
    async fn the_writer_inserts_batches_prunes_and_survives_a_deleted_action() {
        let mut tx = MockTx::new();
        let mut first = true;
        tx.expect_insert_action_executions().returning(move |rows| {
            if first && rows.len() > 1 {
                first = false;
                return Err(StoreError::MissingReference);
            }
            if rows[0].duration_ms == 2 {
                return Err(StoreError::MissingReference);
            }
            Ok(())
        });
        tx.expect_prune_action_executions().returning(|_, _| Ok(0));
        let uow = InlineUow::new(tx);
        let (recorder, writer) = ExecutionRecorder::new(Arc::new(uow.clone()), 16, 100);
        for n in 1..=3 {
            recorder.record(ActionExecution {
                id: ActionExecutionId::from_ulid(ulid::Ulid::from_parts(1, n)),
                environment_id: env(),
                action_id: action(true).id,
                outcome: ExecutionOutcome::Ok,
                duration_ms: u32::try_from(n).unwrap(),
                error: None,
                executed_at: now(),
            });
        }
        drop(recorder);
        writer.await;
        let log = uow.log();
        assert_eq!(
            log.rolled_back, 2,
            "the batch, then the run of the deleted action"
        );
        assert_eq!(log.committed, 2, "the two other runs, one by one");
    }
}
