//! # portcullis-adapters-js
//!
//! The [`ActionRunner`] port on QuickJS (through `rquickjs`): operator-written
//! ES modules run inside the server, in a sandbox with no network, no file
//! system, no process and no module loader (an `import` fails), only the
//! ECMAScript built-ins (`Date` included).
//!
//! - **Threads.** Runs happen on a pool of runner threads, never on the
//!   async workers: a caller awaits a oneshot reply, so a run that loops
//!   holds one runner thread, and the other threads (and every async
//!   worker) keep serving.
//! - **Fairness.** Each environment's runs wait in their own queue; idle
//!   threads serve the queues round-robin, and one environment may hold at
//!   most [`JsLimits::workers_per_environment`] threads at once, so its
//!   slow runs cannot take the threads other environments need.
//! - **Limits.** Each run gets a deadline counted from its submission
//!   (waiting for a thread included), checked by QuickJS's interrupt handler
//!   (an uncatchable exception ends the run), a memory limit on its runtime
//!   (allocation fails past it) and a stack limit (a deep recursion throws a
//!   `RangeError`). A promise that can never settle (no job left to run:
//!   there are no timers) ends the run at once. A watchdog thread answers
//!   every run still unanswered at its deadline, so the bound holds even
//!   for a native built-in that never returns to the interpreter (a huge
//!   `BigInt` to string); a thread stuck in such a call is abandoned and
//!   replaced by a fresh one (at most [`JsLimits::abandoned`] at once).
//! - **Reuse.** Each thread keeps one runtime per script key (the action's
//!   id and `updated_at`) with the module evaluated and its default export
//!   held, so a script is compiled once per thread, not per run. A runtime
//!   whose run hit a limit or crashed is thrown away; module-level state
//!   otherwise persists between runs on one thread (as in other action
//!   engines), and nothing may rely on it.
#![deny(missing_docs)]

mod pool;
mod sandbox;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::EnvironmentId;
use portcullis_ports::actions::{
    ActionCodeError, ActionOutcome, ActionRun, ActionRunner, ActionScript,
};
use serde_json::Value;
use tokio::sync::oneshot;

pub use crate::pool::{ABANDON_AFTER, RunnerThreads};
use crate::pool::{Pool, Reply, Work};

/// The limits every run gets, and the size of the thread pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsLimits {
    /// Wall time of one run, counted from its submission: waiting for a
    /// thread and compiling (when the thread has not compiled that script
    /// yet) included.
    pub timeout: Duration,
    /// Memory one runtime may allocate, in bytes.
    pub memory_limit_bytes: usize,
    /// JavaScript stack one runtime may use, in bytes.
    pub max_stack_bytes: usize,
    /// Runner threads: at most this many runs at once; more wait in their
    /// environment's queue.
    pub workers: usize,
    /// Threads one environment's runs and code checks may hold at once
    /// (abandoned ones included), 1 to `workers`.
    pub workers_per_environment: usize,
    /// Threads that may be abandoned (stuck in a native call past their
    /// deadline, each replaced by a fresh one) at once; past it a stuck
    /// thread keeps its place until it returns or a place frees up.
    pub abandoned: usize,
    /// Runs that may wait for a thread, all environments together; one
    /// environment may hold at most half of them. Past either, a run fails
    /// at once.
    pub queue: usize,
}

impl Default for JsLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(100),
            memory_limit_bytes: 32 * 1024 * 1024,
            max_stack_bytes: 256 * 1024,
            workers: 4,
            workers_per_environment: 2,
            abandoned: 4,
            queue: 1024,
        }
    }
}

/// Closes the pool when the last runner handle is dropped.
struct Handle(Arc<Pool>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The QuickJS action runner. Cloning shares the pool; the threads end
/// when the last clone is dropped.
#[derive(Clone)]
pub struct QuickJsRunner {
    pool: Arc<Handle>,
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
    /// Starts `limits.workers` runner threads (at least one) and the watchdog.
    ///
    /// # Errors
    /// [`StartError`] when a thread cannot be spawned.
    pub fn start(limits: JsLimits) -> Result<Self, StartError> {
        Ok(Self {
            pool: Arc::new(Handle(Pool::start(limits)?)),
            limits,
        })
    }

    /// The limits runs get.
    #[must_use]
    pub fn limits(&self) -> JsLimits {
        self.limits
    }

    /// The threads serving runs and the abandoned ones still running.
    #[must_use]
    pub fn threads(&self) -> RunnerThreads {
        self.pool.0.threads()
    }

    fn submit(&self, lane: EnvironmentId, work: Work, reply: Reply) -> bool {
        let queued = self.pool.0.submit(lane, work, reply);
        if !queued {
            tracing::warn!(?lane, "action runner queue is full; run refused");
        }
        queued
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
    async fn check(&self, environment: EnvironmentId, code: &str) -> Result<(), ActionCodeError> {
        let (reply, answer) = oneshot::channel();
        let work = Work::Check {
            code: code.to_owned(),
        };
        let failed = || ActionCodeError {
            message: "the action runner is unavailable; retry later".into(),
            line: None,
            column: None,
        };
        if !self.submit(environment, work, Reply::Check(reply)) {
            return Err(failed());
        }
        answer.await.unwrap_or_else(|_| Err(failed()))
    }

    async fn run(&self, script: ActionScript, event: Value) -> ActionRun {
        let (reply, answer) = oneshot::channel();
        let lane = script.environment;
        let work = Work::Run {
            script,
            event: event.to_string(),
        };
        if !self.submit(lane, work, Reply::Run(reply)) {
            return unavailable();
        }
        answer.await.unwrap_or_else(|_| unavailable())
    }
}
