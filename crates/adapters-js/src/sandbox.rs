//! One worker's QuickJS runtimes: how a script is loaded under the limits,
//! how a run is driven to its end, and how an engine exception becomes an
//! outcome. Everything here runs on a worker thread and never leaves it
//! (QuickJS runtimes are not shared between threads).

use std::cell::Cell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use portcullis_ports::actions::{ActionCodeError, ActionOutcome, ActionScript};
use rquickjs::promise::PromiseState;
use rquickjs::{Context, Ctx, Error, Function, Module, Persistent, Runtime, Value};

use crate::JsLimits;

/// The module name engine messages use (`at action.js:3:5`).
const MODULE_NAME: &str = "action.js";
/// The error classes the engine raises by itself: a value of one of these
/// is a crash of the code (`Failed`); anything else thrown is a refusal
/// the code chose (`Threw`).
const ENGINE_ERRORS: [&str; 7] = [
    "TypeError",
    "ReferenceError",
    "SyntaxError",
    "RangeError",
    "InternalError",
    "EvalError",
    "URIError",
];
/// Longest message kept from the engine or the code.
const MAX_MESSAGE_CHARS: usize = 1000;
/// Scripts a worker keeps compiled; all are dropped when it is full.
const CACHE_CAPACITY: usize = 64;

/// A runtime with a script's module evaluated. Fields drop in order: the
/// held function before its context, the context before the runtime.
struct Loaded {
    function: Persistent<Function<'static>>,
    context: Context,
    _runtime: Runtime,
    deadline: Rc<Cell<Instant>>,
}

/// How an exception ended a piece of work.
enum Stop {
    Threw(String),
    Failed(String),
    Timeout,
    Memory,
}

impl Stop {
    fn into_outcome(self) -> ActionOutcome {
        match self {
            Self::Threw(message) => ActionOutcome::Threw(message),
            Self::Failed(message) => ActionOutcome::Failed(message),
            Self::Timeout => ActionOutcome::Timeout,
            Self::Memory => ActionOutcome::Memory,
        }
    }

    fn into_code_error(self) -> ActionCodeError {
        match self {
            Self::Threw(message) | Self::Failed(message) => code_error(message),
            Self::Timeout => code_error(
                "the module's top-level code did not finish within the time limit".into(),
            ),
            Self::Memory => {
                code_error("the module's top-level code went over the memory limit".into())
            }
        }
    }
}

/// A code error, with the line and column the engine put in the message's
/// stack (`at action.js:LINE:COLUMN`).
fn code_error(message: String) -> ActionCodeError {
    let position = message
        .split(&format!("{MODULE_NAME}:"))
        .nth(1)
        .map(|rest| {
            let mut numbers = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(str::parse::<u32>);
            (
                numbers.next().and_then(Result::ok),
                numbers.next().and_then(Result::ok),
            )
        });
    let (line, column) = position.unwrap_or((None, None));
    let message = message.lines().next().unwrap_or_default().trim().to_owned();
    let message = match line {
        Some(line) => format!("{message} (line {line})"),
        None => message,
    };
    ActionCodeError {
        message,
        line,
        column,
    }
}

fn truncate(text: String) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text;
    }
    text.chars().take(MAX_MESSAGE_CHARS).collect()
}

/// Classifies the pending exception of `ctx` after `error`.
fn stop<'js>(ctx: &Ctx<'js>, error: &Error, deadline: Instant) -> Stop {
    if matches!(error, Error::Allocation) {
        return Stop::Memory;
    }
    if !matches!(error, Error::Exception) {
        return Stop::Failed(truncate(error.to_string()));
    }
    let thrown = ctx.catch();
    if thrown.is_null() {
        // QuickJS throws `null` when it runs out of memory so completely
        // that it cannot even allocate its "out of memory" error (every
        // small allocation of a bomb made of many small values ends so).
        // Code throwing `null` on purpose lands here too: there is no way
        // to tell the two apart from outside the allocator, and a refusal
        // without a message is no refusal anyway.
        return Stop::Memory;
    }
    let Some(object) = thrown.as_object() else {
        if Instant::now() >= deadline {
            return Stop::Timeout;
        }
        return Stop::Threw(truncate(plain(ctx, &thrown)));
    };
    let name: String = object.get("name").unwrap_or_default();
    let message: String = object.get("message").unwrap_or_default();
    let stack: String = object.get("stack").unwrap_or_default();
    match (name.as_str(), message.as_str()) {
        ("InternalError", "interrupted") => return Stop::Timeout,
        ("InternalError", "out of memory") => return Stop::Memory,
        _ => {}
    }
    if Instant::now() >= deadline {
        return Stop::Timeout;
    }
    if ENGINE_ERRORS.contains(&name.as_str()) {
        // Raised by the engine (a bug in the code, a stack overflow), not
        // thrown on purpose: keep where it happened.
        let at = stack.lines().next().unwrap_or_default().trim();
        return Stop::Failed(truncate(format!("{name}: {message}\n{at}")));
    }
    match (name.as_str(), message.is_empty()) {
        (_, false) => Stop::Threw(truncate(message)),
        ("" | "Error", true) => Stop::Threw(truncate(plain(ctx, &thrown))),
        (_, true) => Stop::Threw(truncate(name)),
    }
}

/// The text of a thrown value that is not an error object.
fn plain<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(text) = value.as_string() {
        return text.to_string().unwrap_or_default();
    }
    ctx.json_stringify(value.clone())
        .ok()
        .flatten()
        .and_then(|s| s.to_string().ok())
        .unwrap_or_else(|| format!("{:?}", value.type_of()))
}

/// Drives the job queue until `promise` settles; a promise still pending
/// when no job is left can never settle (there are no timers or I/O).
fn settle<'js>(ctx: &Ctx<'js>, value: Value<'js>, deadline: Instant) -> Result<Value<'js>, Stop> {
    let Some(promise) = value.as_promise().cloned() else {
        return Ok(value);
    };
    loop {
        match promise.state() {
            PromiseState::Pending => {
                if !ctx.execute_pending_job() {
                    return Err(Stop::Timeout);
                }
            }
            PromiseState::Resolved | PromiseState::Rejected => {
                return match promise.result::<Value>() {
                    Some(Ok(value)) => Ok(value),
                    Some(Err(error)) => Err(stop(ctx, &error, deadline)),
                    None => Err(Stop::Timeout),
                };
            }
        }
    }
}

/// One worker's runtimes, keyed by script key.
pub(crate) struct Worker {
    limits: JsLimits,
    loaded: HashMap<String, Loaded>,
}

impl Worker {
    pub(crate) fn new(limits: JsLimits) -> Self {
        Self {
            limits,
            loaded: HashMap::new(),
        }
    }

    /// A fresh runtime and context with the limits set and the deadline at `deadline`.
    fn sandbox(&self, deadline: Instant) -> Result<(Runtime, Context, Rc<Cell<Instant>>), Stop> {
        let runtime = Runtime::new().map_err(|e| Stop::Failed(e.to_string()))?;
        runtime.set_memory_limit(self.limits.memory_limit_bytes);
        runtime.set_max_stack_size(self.limits.max_stack_bytes);
        let cell = Rc::new(Cell::new(deadline));
        let watched = Rc::clone(&cell);
        runtime.set_interrupt_handler(Some(Box::new(move || Instant::now() >= watched.get())));
        let context = Context::full(&runtime).map_err(|e| match e {
            Error::Allocation => Stop::Memory,
            other => Stop::Failed(other.to_string()),
        })?;
        Ok((runtime, context, cell))
    }

    /// Compiles and evaluates `code` in a fresh runtime and holds its default export.
    fn load(&self, code: &str, deadline: Instant) -> Result<Loaded, Stop> {
        let (runtime, context, cell) = self.sandbox(deadline)?;
        let function = context.with(|ctx| {
            let fail = |e: Error| stop(&ctx, &e, deadline);
            let declared = Module::declare(ctx.clone(), MODULE_NAME, code).map_err(fail)?;
            let (module, evaluated) = declared.eval().map_err(fail)?;
            settle(&ctx, evaluated.into_value(), deadline).map_err(|stopped| match stopped {
                Stop::Timeout if Instant::now() < deadline => {
                    Stop::Failed("the module's top-level await never settles".into())
                }
                other => other,
            })?;
            let export: Value = module
                .get("default")
                .ok()
                .filter(|v: &Value| !v.is_undefined())
                .ok_or_else(|| Stop::Failed("the module must have a default export".into()))?;
            let function = export
                .into_function()
                .ok_or_else(|| Stop::Failed("the default export must be a function".into()))?;
            Ok(Persistent::save(&ctx, function))
        })?;
        Ok(Loaded {
            function,
            context,
            _runtime: runtime,
            deadline: cell,
        })
    }

    /// Whether `code` loads (see
    /// [`portcullis_ports::actions::ActionRunner::check`]) by `deadline`.
    pub(crate) fn check(&mut self, code: &str, deadline: Instant) -> Result<(), ActionCodeError> {
        self.load(code, deadline)
            .map(drop)
            .map_err(Stop::into_code_error)
    }

    /// Runs `script` with the event (JSON text) until `deadline` at the latest.
    pub(crate) fn run(
        &mut self,
        script: &ActionScript,
        event: &str,
        deadline: Instant,
    ) -> ActionOutcome {
        match self.run_until(script, event, deadline) {
            Ok(value) => ActionOutcome::Returned(value),
            Err(stopped) => {
                // A limit or a crash may leave the runtime in any state.
                self.loaded.remove(&script.key);
                stopped.into_outcome()
            }
        }
    }

    fn run_until(
        &mut self,
        script: &ActionScript,
        event: &str,
        deadline: Instant,
    ) -> Result<serde_json::Value, Stop> {
        if !self.loaded.contains_key(&script.key) {
            let loaded = self.load(&script.code, deadline)?;
            if self.loaded.len() >= CACHE_CAPACITY {
                self.loaded.clear();
            }
            self.loaded.insert(script.key.clone(), loaded);
        }
        let loaded = self
            .loaded
            .get(&script.key)
            .ok_or_else(|| Stop::Failed("the script was not loaded".into()))?;
        loaded.deadline.set(deadline);
        let function = loaded.function.clone();
        let text = loaded.context.with(|ctx| {
            let fail = |e: Error| stop(&ctx, &e, deadline);
            let function = function.restore(&ctx).map_err(fail)?;
            let argument = ctx.json_parse(event).map_err(fail)?;
            let returned: Value = function.call((argument,)).map_err(fail)?;
            let value = settle(&ctx, returned, deadline)?;
            if value.is_undefined() {
                return Ok(None);
            }
            let text = ctx
                .json_stringify(value)
                .map_err(|e| match stop(&ctx, &e, deadline) {
                    Stop::Threw(message) => {
                        Stop::Failed(format!("the returned value is not JSON: {message}"))
                    }
                    other => other,
                })?;
            text.map(|s| s.to_string().map_err(fail)).transpose()
        })?;
        match text {
            None => Ok(serde_json::Value::Null),
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| Stop::Failed(format!("the returned value is not JSON: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_errors_carry_the_line_and_column_of_the_stack() {
        let error = code_error("SyntaxError: unexpected token\n    at action.js:3:5".into());
        assert_eq!(error.line, Some(3));
        assert_eq!(error.column, Some(5));
        assert_eq!(error.message, "SyntaxError: unexpected token (line 3)");
        let bare = code_error("the default export must be a function".into());
        assert_eq!((bare.line, bare.column), (None, None));
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(
            truncate("x".repeat(5000)).chars().count(),
            MAX_MESSAGE_CHARS
        );
        assert_eq!(truncate("short".into()), "short");
    }
}
