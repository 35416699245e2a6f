//! The QuickJS runner against real engines: the seed example, each limit
//! (a native call past the time limit and small allocations past the
//! memory limit included), the sandbox's missing capabilities, code checks,
//! reuse of compiled code, runs proceeding side by side, environments
//! served fairly, time spent waiting for a thread counted, and threads
//! stuck in native code abandoned and replaced within their bound.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_adapters_js::{ABANDON_AFTER, JsLimits, QuickJsRunner, RunnerThreads};
use portcullis_domain::EnvironmentId;
use portcullis_ports::actions::{ActionOutcome, ActionRunner, ActionScript};
use serde_json::{Value, json};

const SEED: &str = "export default async function(event) { return { claims: event.claims }; }";

fn runner() -> QuickJsRunner {
    QuickJsRunner::start(JsLimits {
        workers: 2,
        ..JsLimits::default()
    })
    .unwrap()
}

fn environment(n: u64) -> EnvironmentId {
    EnvironmentId::from_ulid(ulid::Ulid::from_parts(n, 1))
}

fn script(key: &str, code: &str) -> ActionScript {
    script_of(1, key, code)
}

fn script_of(env: u64, key: &str, code: &str) -> ActionScript {
    ActionScript {
        environment: environment(env),
        key: key.into(),
        code: Arc::from(code),
    }
}

async fn outcome(runner: &QuickJsRunner, code: &str) -> (ActionOutcome, Duration) {
    let started = Instant::now();
    let run = runner
        .run(script(code, code), json!({ "claims": { "sub": "m" } }))
        .await;
    (run.outcome, started.elapsed())
}

#[tokio::test]
async fn the_seed_example_runs_as_written() {
    let runner = runner();
    runner.check(environment(1), SEED).await.unwrap();
    let run = runner
        .run(
            script("seed", SEED),
            json!({ "claims": { "sub": "machine", "x": [1, 2] } }),
        )
        .await;
    assert_eq!(
        run.outcome,
        ActionOutcome::Returned(json!({ "claims": { "sub": "machine", "x": [1, 2] } }))
    );
    assert!(
        run.duration < Duration::from_millis(100),
        "{:?}",
        run.duration
    );
}

#[tokio::test]
async fn an_infinite_loop_ends_at_the_wall_time_limit() {
    let (outcome, took) = outcome(&runner(), "export default function() { while (true) {} }").await;
    assert_eq!(outcome, ActionOutcome::Timeout);
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(400), "{took:?}");
}

#[tokio::test]
async fn a_loop_that_catches_still_ends_at_the_limit() {
    let code = "export default function() { for (;;) { try { while (true) {} } catch (e) {} } }";
    let (outcome, took) = outcome(&runner(), code).await;
    assert_eq!(outcome, ActionOutcome::Timeout);
    assert!(took < Duration::from_millis(400), "{took:?}");
}

#[tokio::test]
async fn a_memory_bomb_ends_at_the_memory_limit() {
    // A limit long enough for a debug build: at the time limit the answer
    // would be a timeout.
    let runner = QuickJsRunner::start(JsLimits {
        timeout: Duration::from_secs(20),
        ..JsLimits::default()
    })
    .unwrap();
    let code = "export default function() { const a = []; for (;;) { a.push(new Array(100000).fill(1)); } }";
    let (outcome, took) = outcome(&runner, code).await;
    assert_eq!(outcome, ActionOutcome::Memory);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn a_deep_recursion_is_a_failed_run() {
    let code = "export default function() { function f(n) { return f(n + 1) + 1; } return f(0); }";
    let (outcome, took) = outcome(&runner(), code).await;
    match outcome {
        ActionOutcome::Failed(message) => {
            assert!(message.contains("RangeError"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(took < Duration::from_millis(400), "{took:?}");
}

#[tokio::test]
async fn a_promise_that_never_settles_ends_at_once() {
    let code = "export default function() { return new Promise(() => {}); }";
    let (outcome, took) = outcome(&runner(), code).await;
    assert_eq!(outcome, ActionOutcome::Timeout);
    assert!(took < Duration::from_millis(100), "{took:?}");
}

#[tokio::test]
async fn throws_and_rejections_carry_their_message_and_engine_errors_are_failures() {
    let runner = runner();
    for (code, expected) in [
        (
            "export default async function() { throw new Error('not on weekends'); }",
            ActionOutcome::Threw("not on weekends".into()),
        ),
        (
            "export default function() { throw 'plain text'; }",
            ActionOutcome::Threw("plain text".into()),
        ),
        (
            "export default function() { return Promise.reject(new Error('later')); }",
            ActionOutcome::Threw("later".into()),
        ),
    ] {
        assert_eq!(outcome(&runner, code).await.0, expected, "{code}");
    }
    let (crash, _) = outcome(
        &runner,
        "export default function(e) { return e.nope.deeper; }",
    )
    .await;
    assert!(
        matches!(&crash, ActionOutcome::Failed(m) if m.starts_with("TypeError")),
        "{crash:?}"
    );
}

#[tokio::test]
async fn the_sandbox_has_no_network_files_process_or_modules() {
    let runner = runner();
    let code = "export default function() { return { t: [typeof require, typeof fetch, typeof process, typeof XMLHttpRequest, typeof setTimeout, typeof std, typeof os, typeof Date.now()] }; }";
    let (returned, _) = outcome(&runner, code).await;
    assert_eq!(
        returned,
        ActionOutcome::Returned(
            json!({ "t": ["undefined", "undefined", "undefined", "undefined", "undefined", "undefined", "undefined", "number"] })
        )
    );
    let error = runner
        .check(
            environment(1),
            "import { readFile } from 'fs'; export default function() {}",
        )
        .await
        .unwrap_err();
    assert!(error.message.contains("could not load module"), "{error:?}");
    let error = runner
        .check(
            environment(1),
            "export default async function() { return await import('os'); }",
        )
        .await;
    assert!(
        error.is_ok(),
        "a dynamic import compiles; it fails when run"
    );
    let (imported, _) = outcome(
        &runner,
        "export default async function() { return await import('os'); }",
    )
    .await;
    assert!(
        !matches!(imported, ActionOutcome::Returned(_)),
        "{imported:?}"
    );
}

#[tokio::test]
async fn checks_report_the_engine_message_and_line() {
    let runner = runner();
    let error = runner
        .check(
            environment(1),
            "export default function(event) {\n  return { claims: \n}",
        )
        .await
        .unwrap_err();
    assert!(error.message.starts_with("SyntaxError"), "{error:?}");
    assert_eq!(error.line, Some(3), "{error:?}");
    for (code, expected) in [
        (
            "export default 42;",
            "the default export must be a function",
        ),
        (
            "export const x = 1;",
            "the module must have a default export",
        ),
        (
            "while (true) {}\nexport default function() {}",
            "time limit",
        ),
    ] {
        let error = runner.check(environment(1), code).await.unwrap_err();
        assert!(error.message.contains(expected), "{code}: {error:?}");
    }
}

#[tokio::test]
async fn compiled_code_is_reused_per_key_and_dropped_after_a_limit() {
    let runner = QuickJsRunner::start(JsLimits {
        workers: 1,
        ..JsLimits::default()
    })
    .unwrap();
    // Module state survives between runs only when the module was not
    // evaluated again.
    let code = "let runs = 0; export default function(e) { runs += 1; if (e.loop) { while (true) {} } return { runs }; }";
    let runs = |event: Value| {
        let runner = runner.clone();
        async move { runner.run(script("a@1", code), event).await.outcome }
    };
    assert_eq!(
        runs(json!({})).await,
        ActionOutcome::Returned(json!({ "runs": 1 }))
    );
    assert_eq!(
        runs(json!({})).await,
        ActionOutcome::Returned(json!({ "runs": 2 }))
    );
    assert_eq!(runs(json!({ "loop": true })).await, ActionOutcome::Timeout);
    assert_eq!(
        runs(json!({})).await,
        ActionOutcome::Returned(json!({ "runs": 1 })),
        "a fresh runtime after the timeout"
    );
    let other = runner.run(script("a@2", code), json!({})).await.outcome;
    assert_eq!(
        other,
        ActionOutcome::Returned(json!({ "runs": 1 })),
        "a new key compiles anew"
    );
}

#[tokio::test]
async fn a_looping_run_does_not_hold_up_other_runs() {
    let runner = runner();
    let looping = {
        let runner = runner.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let run = runner
                .run(
                    script("loop", "export default function() { for (;;) {} }"),
                    json!({}),
                )
                .await;
            (run.outcome, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    for _ in 0..20 {
        let run = runner
            .run(script("seed", SEED), json!({ "claims": {} }))
            .await;
        assert!(matches!(run.outcome, ActionOutcome::Returned(_)));
    }
    let quick = started.elapsed();
    let (outcome, slow) = looping.await.unwrap();
    assert_eq!(outcome, ActionOutcome::Timeout);
    assert!(
        quick < slow,
        "20 quick runs took {quick:?}, the loop {slow:?}"
    );
    assert!(quick < Duration::from_millis(90), "{quick:?}");
}

/// One call of a native built-in that takes seconds (turning a
/// 313,000-digit `BigInt` into a string: ~10 s in a debug build, ~3 s
/// optimised) and never returns to the interpreter meanwhile, so the
/// interrupt handler cannot stop it.
const SLOW_NATIVE: &str =
    "export default function() { return { claims: { l: String(2n ** 1040000n).length } }; }";
const QUICK: &str = "export default function() { return { claims: { quick: true } }; }";
/// The time limit of the tests below, and the generous margin within which
/// an answer must come after it (the machine may be loaded).
const LIMIT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(3);

fn limited(workers: usize, workers_per_environment: usize, abandoned: usize) -> QuickJsRunner {
    QuickJsRunner::start(JsLimits {
        timeout: LIMIT,
        workers,
        workers_per_environment,
        abandoned,
        ..JsLimits::default()
    })
    .unwrap()
}

async fn timed(runner: &QuickJsRunner, env: u64, code: &str) -> (ActionOutcome, Duration) {
    let started = Instant::now();
    let run = runner.run(script_of(env, code, code), json!({})).await;
    (run.outcome, started.elapsed())
}

/// Waits until the runner reports `expected` threads (a few seconds at most).
async fn threads_become(runner: &QuickJsRunner, expected: RunnerThreads) {
    let deadline = Instant::now() + MARGIN;
    while runner.threads() != expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runner.threads(), expected);
}

#[tokio::test]
async fn a_native_call_past_the_limit_is_answered_at_the_limit_and_its_thread_replaced() {
    let runner = limited(2, 2, 2);
    let started = Instant::now();
    let run = runner
        .run(script_of(1, "slow", SLOW_NATIVE), json!({}))
        .await;
    let took = started.elapsed();
    assert_eq!(run.outcome, ActionOutcome::Timeout);
    assert!(took >= LIMIT, "{took:?}");
    assert!(took < LIMIT + MARGIN, "{took:?}");
    assert!(run.duration >= LIMIT, "{:?}", run.duration);
    // The stuck thread is abandoned and replaced: the pool keeps its size.
    threads_become(
        &runner,
        RunnerThreads {
            workers: 2,
            abandoned: 1,
        },
    )
    .await;
    let (quick, took) = timed(&runner, 1, QUICK).await;
    assert_eq!(
        quick,
        ActionOutcome::Returned(json!({ "claims": { "quick": true } }))
    );
    assert!(took < LIMIT, "{took:?}");
}

#[tokio::test]
async fn abandoned_threads_stay_within_their_bound() {
    // Two stuck runs, room for one abandoned thread: the first is replaced,
    // the second keeps its place in the pool until it returns.
    let runner = limited(2, 2, 1);
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let runner = runner.clone();
            tokio::spawn(async move { timed(&runner, 1, SLOW_NATIVE).await })
        })
        .collect();
    for slow in slow {
        let (outcome, took) = slow.await.unwrap();
        assert_eq!(outcome, ActionOutcome::Timeout);
        assert!(took < LIMIT + MARGIN, "{took:?}");
    }
    threads_become(
        &runner,
        RunnerThreads {
            workers: 2,
            abandoned: 1,
        },
    )
    .await;
    tokio::time::sleep(ABANDON_AFTER * 2).await;
    assert_eq!(
        runner.threads(),
        RunnerThreads {
            workers: 2,
            abandoned: 1,
        },
        "never more than the bound"
    );
    // The replacement serves the other environment meanwhile.
    let (quick, took) = timed(&runner, 2, QUICK).await;
    assert!(matches!(quick, ActionOutcome::Returned(_)), "{quick:?}");
    assert!(took < LIMIT, "{took:?}");
}

#[tokio::test]
async fn one_environment_s_slow_runs_do_not_delay_another_s() {
    // Each environment may hold one of the two threads.
    let runner = limited(2, 1, 2);
    let started = Instant::now();
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let runner = runner.clone();
            tokio::spawn(async move {
                let (outcome, _) = timed(&runner, 1, SLOW_NATIVE).await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (quick, quick_took) = timed(&runner, 2, QUICK).await;
    assert_eq!(
        quick,
        ActionOutcome::Returned(json!({ "claims": { "quick": true } })),
        "the other environment's run started before its deadline"
    );
    assert!(quick_took < LIMIT, "{quick_took:?}");
    let quick_answered = started.elapsed();
    for slow in slow {
        let (outcome, answered) = slow.await.unwrap();
        assert_eq!(outcome, ActionOutcome::Timeout);
        assert!(
            quick_answered < answered,
            "{quick_answered:?} vs {answered:?}"
        );
        // The two that waited behind the first count their wait.
        assert!(answered < LIMIT + MARGIN, "{answered:?}");
    }
}

#[tokio::test]
async fn time_spent_waiting_for_a_thread_counts_toward_the_limit() {
    // One thread, four loops: each is answered at its own deadline,
    // counted from its call, not one limit after the previous one ended
    // (which would be 1, 2, 3 and 4 s).
    let runner = limited(1, 1, 1);
    let started = Instant::now();
    let loops: Vec<_> = (0..4)
        .map(|_| {
            let runner = runner.clone();
            tokio::spawn(async move {
                let (outcome, _) =
                    timed(&runner, 1, "export default function() { for (;;) {} }").await;
                (outcome, started.elapsed())
            })
        })
        .collect();
    for looping in loops {
        let (outcome, answered) = looping.await.unwrap();
        assert_eq!(outcome, ActionOutcome::Timeout);
        assert!(answered >= LIMIT, "{answered:?}");
        assert!(
            answered < LIMIT + Duration::from_millis(1500),
            "{answered:?}"
        );
    }
}

#[tokio::test]
async fn small_allocations_past_the_memory_limit_are_the_memory_limit() {
    // QuickJS throws `null` when it cannot even allocate its "out of
    // memory" error; the limit is long so that a slow build ends by memory.
    let runner = QuickJsRunner::start(JsLimits {
        timeout: Duration::from_secs(20),
        ..JsLimits::default()
    })
    .unwrap();
    for code in [
        "export default function() { const a = \"x,\".repeat(4 * 1024 * 1024).split(\",\"); return { claims: { n: a.length } }; }",
        "export default function() { const a = []; for (let i = 0; ; i++) a.push('x' + i); }",
        "export default async function() { const a = []; for (let i = 0; ; i++) a.push({ i }); }",
    ] {
        assert_eq!(
            runner.run(script(code, code), json!({})).await.outcome,
            ActionOutcome::Memory,
            "{code}"
        );
    }
    let error = runner
        .check(
            environment(1),
            "const a = []; for (;;) a.push('x' + a.length);\nexport default function() {}",
        )
        .await
        .unwrap_err();
    assert!(error.message.contains("memory limit"), "{error:?}");
}
