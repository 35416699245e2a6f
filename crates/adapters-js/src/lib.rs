//! # portcullis-adapters-js
//!
//! The [`ActionRunner`] port on QuickJS (through `rquickjs`): operator-written
//! ES modules run inside the server, in a sandbox with no network, no file
//! system, no process and no module loader (an `import` fails), only the
//! ECMAScript built-ins (`Date` included).
//!
//! - **Threads.** Runs happen on a fixed pool of worker threads, never on
//!   the async workers: a caller awaits a oneshot reply, so a run that
//!   loops until its limit holds one worker thread, and the other workers
//!   (and every async worker) keep serving.
//! - **Limits.** Each run gets a wall-time deadline, checked by QuickJS's
//!   interrupt handler (an uncatchable exception ends the run), a memory
//!   limit on its runtime (allocation fails past it) and a stack limit (a
//!   deep recursion throws a `RangeError`). A promise that can never settle
//!   (no job left to run: there are no timers) ends the run at once.
//! - **Reuse.** Each worker keeps one runtime per script key (the action's
//!   id and `updated_at`) with the module evaluated and its default export
//!   held, so a script is compiled once per worker, not per run. A runtime
//!   whose run hit a limit or crashed is thrown away; module-level state
//!   otherwise persists between runs on one worker (as in other action
//!   engines), and nothing may rely on it.
#![deny(missing_docs)]

mod sandbox;

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_ports::actions::{
    ActionCodeError, ActionOutcome, ActionRun, ActionRunner, ActionScript,
};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::sandbox::Worker;

/// The limits every run gets, and the size of the worker pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsLimits {
    /// Wall time of one run (compiling included when the worker has not
    /// compiled that script yet).
    pub timeout: Duration,
    /// Memory one runtime may allocate, in bytes.
    pub memory_limit_bytes: usize,
    /// JavaScript stack one runtime may use, in bytes.
    pub max_stack_bytes: usize,
    /// Worker threads: at most this many runs at once; more wait in a queue.
    pub workers: usize,
    /// Runs that may wait for a worker; past it a run fails at once.
    pub queue: usize,
}

impl Default for JsLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            memory_limit_bytes: 32 * 1024 * 1024,
            max_stack_bytes: 256 * 1024,
            workers: 2,
            queue: 1024,
        }
    }
}

/// Native stack of a worker thread: well above the JavaScript stack limit,
/// so that QuickJS's own check always fires first.
const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

/// Work for a worker.
enum Job {
    Check {
        code: String,
        reply: oneshot::Sender<Result<(), ActionCodeError>>,
    },
    Run {
        script: ActionScript,
        event: String,
        reply: oneshot::Sender<ActionRun>,
    },
}

/// The QuickJS action runner. Cloning shares the pool; the worker threads
/// end when the last clone is dropped.
#[derive(Clone)]
pub struct QuickJsRunner {
    jobs: SyncSender<Job>,
    limits: JsLimits,
}

impl std::fmt::Debug for QuickJsRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickJsRunner")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The pool could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the action runner: {0}")]
pub struct StartError(#[from] std::io::Error);

impl QuickJsRunner {
    /// Starts `limits.workers` worker threads (at least one).
    ///
    /// # Errors
    /// [`StartError`] when a thread cannot be spawned.
    pub fn start(limits: JsLimits) -> Result<Self, StartError> {
        let (jobs, queue) = sync_channel::<Job>(limits.queue.max(1));
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..limits.workers.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("action-runner-{index}"))
                .stack_size(THREAD_STACK_BYTES)
                .spawn(move || work(&queue, limits))?;
        }
        Ok(Self { jobs, limits })
    }

    /// The limits runs get.
    #[must_use]
    pub fn limits(&self) -> JsLimits {
        self.limits
    }

    fn submit(&self, job: Job) -> bool {
        match self.jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::warn!("action runner queue is full; run refused");
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("action runner workers are gone");
                false
            }
        }
    }
}

/// A worker thread: takes jobs until the runner is dropped. A panic while
/// handling a job drops its reply (the caller sees a failed run) and the
/// worker's compiled scripts, and the worker goes on.
fn work(queue: &Mutex<Receiver<Job>>, limits: JsLimits) {
    let mut worker = Worker::new(limits);
    loop {
        let job = {
            let receiver = queue.lock().unwrap_or_else(PoisonError::into_inner);
            receiver.recv()
        };
        let Ok(job) = job else {
            return;
        };
        let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
            Job::Check { code, reply } => {
                let _ = reply.send(worker.check(&code));
            }
            Job::Run {
                script,
                event,
                reply,
            } => {
                let _ = reply.send(worker.run(&script, &event));
            }
        }));
        if handled.is_err() {
            tracing::error!("an action run panicked; the worker's runtimes are reset");
            worker = Worker::new(limits);
        }
    }
}

fn unavailable() -> ActionRun {
    ActionRun {
        outcome: ActionOutcome::Failed("the action runner is unavailable".into()),
        duration: Duration::ZERO,
    }
}

#[async_trait]
impl ActionRunner for QuickJsRunner {
    async fn check(&self, code: &str) -> Result<(), ActionCodeError> {
        let (reply, answer) = oneshot::channel();
        let job = Job::Check {
            code: code.to_owned(),
            reply,
        };
        let failed = || ActionCodeError {
            message: "the action runner is unavailable; retry later".into(),
            line: None,
            column: None,
        };
        if !self.submit(job) {
            return Err(failed());
        }
        answer.await.unwrap_or_else(|_| Err(failed()))
    }

    async fn run(&self, script: ActionScript, event: Value) -> ActionRun {
        let (reply, answer) = oneshot::channel();
        let job = Job::Run {
            script,
            event: event.to_string(),
            reply,
        };
        if !self.submit(job) {
            return unavailable();
        }
        answer.await.unwrap_or_else(|_| unavailable())
    }
}
