//! The QuickJS runner against real engines: the seed example, each limit,
//! the sandbox's missing capabilities, code checks, reuse of compiled code
//! and runs proceeding side by side.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_adapters_js::{JsLimits, QuickJsRunner};
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

fn script(key: &str, code: &str) -> ActionScript {
    ActionScript {
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
    runner.check(SEED).await.unwrap();
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
    let code = "export default function() { const a = []; for (;;) { a.push(new Array(100000).fill(1)); } }";
    let (outcome, took) = outcome(&runner(), code).await;
    assert_eq!(outcome, ActionOutcome::Memory);
    assert!(took < Duration::from_millis(400), "{took:?}");
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
        .check("import { readFile } from 'fs'; export default function() {}")
        .await
        .unwrap_err();
    assert!(error.message.contains("could not load module"), "{error:?}");
    let error = runner
        .check("export default async function() { return await import('os'); }")
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
        .check("export default function(event) {\n  return { claims: \n}")
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
        let error = runner.check(code).await.unwrap_err();
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
