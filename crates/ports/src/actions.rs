//! The action runner port: compiles and runs operator-written JavaScript
//! (`actions`) inside a sandbox with hard limits. The adapter owns the
//! engine, its threads and its limits; the core hands it code and an event
//! and gets back an outcome, never an engine error type. A run never
//! panics, never blocks the async workers and is always answered by its
//! wall-time limit, counted from the call: an infinite loop, a single
//! native call that never returns to the interpreter, a memory bomb, a deep
//! recursion, a promise that never settles or a wait for a free runner each
//! become an [`ActionOutcome`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_domain::EnvironmentId;
use serde_json::Value;

/// Code to run, with the key under which the adapter may keep it compiled
/// and the environment it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionScript {
    /// The environment whose action this is: the adapter serves
    /// environments fairly, so that one environment's slow runs never hold
    /// every runner.
    pub environment: EnvironmentId,
    /// Identifies this version of the code (the action's id and
    /// `updated_at`): the same key MUST always come with the same code, so
    /// that the adapter may reuse what it compiled for it.
    pub key: String,
    /// The ES module source; its default export is the function to call.
    pub code: Arc<str>,
}

/// Why code was refused before it ever ran for real.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ActionCodeError {
    /// The engine's message (`SyntaxError: unexpected token`, ...).
    pub message: String,
    /// 1-based line of the problem, when the engine names one.
    pub line: Option<u32>,
    /// 1-based column of the problem, when the engine names one.
    pub column: Option<u32>,
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// The function returned (or its promise resolved to) this value, as
    /// JSON (`null` for `undefined`).
    Returned(Value),
    /// The code threw (or its promise rejected) on purpose; the message of
    /// the thrown value.
    Threw(String),
    /// The run crashed without the code choosing to: a stack overflow, a
    /// value that is not JSON, a module that does not load, the runner
    /// being unavailable.
    Failed(String),
    /// The wall-time limit (counted from the call, waiting for a runner
    /// included) ended the run or came before it could start, or the
    /// returned promise can never settle.
    Timeout,
    /// The memory limit ended the run.
    Memory,
}

/// One run: its outcome and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRun {
    /// How it ended.
    pub outcome: ActionOutcome,
    /// Time from the call to the answer: waiting for a runner, compiling
    /// when needed, then running.
    pub duration: Duration,
}

/// Compiles and runs actions.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ActionRunner: Send + Sync + 'static {
    /// Checks that `code`, to be stored in `environment`, is an ES module
    /// that compiles, evaluates within the limits and whose default export
    /// is a function. MUST answer within the wall-time limit counted from
    /// the call, and serve environments fairly as [`ActionRunner::run`] does.
    ///
    /// # Errors
    /// MUST return [`ActionCodeError`] with the engine's message (and the
    /// line when the engine gives one) for any other code.
    async fn check(&self, environment: EnvironmentId, code: &str) -> Result<(), ActionCodeError>;

    /// Calls the default export of `script` with `event` (a JSON object)
    /// under the wall-time and memory limits. MUST NOT block the calling
    /// async worker, MUST let other runs proceed while this one runs, MUST
    /// answer by the wall-time limit counted from this call (waiting for a
    /// runner included; [`ActionOutcome::Timeout`] when it ends there)
    /// whatever the code does, and MUST NOT let one environment's runs
    /// delay another environment's past that limit.
    async fn run(&self, script: ActionScript, event: Value) -> ActionRun;
}
