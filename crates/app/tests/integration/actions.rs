//! Actions end to end: the collection (one per trigger, code checked with
//! the engine's message and line, events, scopes), and `pre_token` on the
//! token endpoint: the seed example, claims added, reserved claims kept,
//! a throw refused, each limit a server error, a disabled action not
//! running, every run recorded, and tokens for other clients flowing while
//! one client's action loops until its limit; a native call past the
//! limit answered at the limit (`timeout`) without delaying another
//! environment's tokens, and running out of memory a server error
//! recorded as `memory`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{
    CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, jsonapi, spawn_app, spawn_app_with,
};

const SEED: &str = "export default async function(event) { return { claims: event.claims }; }";
const TIER: &str = "export default async function(event) {\n  return { claims: { 'https://example.com/tier': 'gold', sub: 'someone-else', client: event.client.name } };\n}";

fn document(attributes: &Value) -> Value {
    json!({"data": {"type": "action", "attributes": attributes}})
}

async fn create_action(app: &TestApp, token: &str, attributes: &Value) -> reqwest::Response {
    app.post("/api/actions", token, &document(attributes)).await
}

/// Creates the environment's `pre_token` action; returns its id.
async fn pre_token(app: &TestApp, token: &str, code: &str) -> String {
    let response = create_action(
        app,
        token,
        &json!({"name": "Pre token", "trigger": "pre_token", "code": code}),
    )
    .await;
    assert_eq!(response.status(), 201);
    jsonapi(response).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn claims_of(token: &str) -> Value {
    crate::support::jwt_segment(token, 1)
}

async fn token_response_for(app: &TestApp, (id, secret): (&str, &str)) -> reqwest::Response {
    app.client
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// The recorded runs of an action, most recent first, once there are `count`.
async fn executions(app: &TestApp, token: &str, action: &str, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = jsonapi(
            app.get(&format!("/api/actions/{action}/executions"), token)
                .await,
        )
        .await;
        let rows = listed["data"].as_array().unwrap().clone();
        if rows.len() >= count || Instant::now() > deadline {
            assert_eq!(rows.len(), count, "{listed}");
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A second machine client with a grant on the Management API; returns its credentials.
async fn other_client(
    app: &TestApp,
    token: &str,
    name: &str,
    token_format: &str,
) -> (String, String) {
    let created = app
        .post(
            "/api/clients",
            token,
            &json!({"data": {"type": "client", "attributes": {
                "name": name, "client_type": "confidential", "grant_types": ["client_credentials"],
                "token_format": token_format
            }}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let client = jsonapi(created).await["data"].clone();
    let servers = jsonapi(app.get("/api/resource-servers", token).await).await;
    let api = servers["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["system"] == true)
        .unwrap()["id"]
        .clone();
    let granted = app
        .post(
            "/api/client-grants",
            token,
            &json!({"data": {"type": "client_grant",
                "attributes": {"allowed_scopes": ["users:read"]},
                "relationships": {
                    "client": {"data": {"type": "client", "id": client["id"]}},
                    "resource_server": {"data": {"type": "resource_server", "id": api}}}}}),
        )
        .await;
    assert_eq!(granted.status(), 201);
    (
        client["attributes"]["client_id"]
            .as_str()
            .unwrap()
            .to_owned(),
        client["attributes"]["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

async fn an_action_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = create_action(
        &app,
        &token,
        &json!({"name": " Claims ", "trigger": "post_login", "code": SEED}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/actions/{id}", app.base));
    assert_eq!(body["data"]["type"], "action");
    let attributes = &body["data"]["attributes"];
    assert_eq!(attributes["name"], "Claims");
    assert_eq!(attributes["trigger"], "post_login");
    assert_eq!(attributes["code"], SEED);
    assert_eq!(attributes["enabled"], true);

    let fetched = jsonapi(app.get(&format!("/api/actions/{id}"), &token).await).await;
    assert_eq!(fetched["data"]["attributes"], body["data"]["attributes"]);

    let second = create_action(
        &app,
        &token,
        &json!({"name": "Again", "trigger": "post_login", "code": SEED}),
    )
    .await;
    let error = expect_error(second, 409, "action_trigger_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/trigger");

    let patched = app
        .patch(
            &format!("/api/actions/{id}"),
            &token,
            &json!({"data": {"type": "action", "id": id, "attributes": {"enabled": false, "trigger": "pre_token"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(patched["data"]["attributes"]["enabled"], false);
    assert_eq!(patched["data"]["attributes"]["trigger"], "pre_token");
    assert_ne!(
        patched["data"]["attributes"]["updated_at"],
        attributes["updated_at"]
    );

    let listed = jsonapi(app.get("/api/actions", &token).await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    assert_eq!(
        app.delete(&format!("/api/actions/{id}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/actions/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/api/actions/{id}/executions"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let recorded = app
        .db
        .texts("SELECT event_type AS value FROM events WHERE resource_type = 'action' ORDER BY id");
    assert_eq!(
        recorded,
        ["action.created", "action.updated", "action.deleted"]
    );
}

async fn bad_input_is_refused_with_pointers_and_the_engine_message(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let broken = create_action(
        &app,
        &token,
        &json!({"name": "Broken", "trigger": "pre_token",
            "code": "export default function(event) {\n  return { claims: \n}"}),
    )
    .await;
    let error = expect_error(broken, 422, "code_does_not_compile").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/code");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.starts_with("SyntaxError"), "{detail}");
    assert!(detail.contains("(line 3)"), "{detail}");

    for (attributes, status, code, pointer) in [
        (
            json!({"name": "x", "trigger": "on_login", "code": SEED}),
            422,
            "invalid_trigger",
            "/data/attributes/trigger",
        ),
        (
            json!({"trigger": "pre_token", "code": SEED}),
            422,
            "name_required",
            "/data/attributes/name",
        ),
        (
            json!({"name": "x", "trigger": "pre_token"}),
            422,
            "code_required",
            "/data/attributes/code",
        ),
        (
            json!({"name": "x", "trigger": "pre_token", "code": "export default 42;"}),
            422,
            "code_does_not_compile",
            "/data/attributes/code",
        ),
        (
            json!({"name": "x", "trigger": "pre_token", "code": "import fs from 'fs'; export default () => ({});"}),
            422,
            "code_does_not_compile",
            "/data/attributes/code",
        ),
        (
            json!({"name": "x", "trigger": "pre_token", "code": SEED, "enabled": "yes"}),
            422,
            "invalid_type",
            "/data/attributes/enabled",
        ),
        (
            json!({"name": "x", "trigger": "pre_token", "code": SEED, "created_at": "now"}),
            422,
            "read_only_attribute",
            "/data/attributes/created_at",
        ),
        (
            json!({"name": null, "trigger": "pre_token", "code": SEED}),
            422,
            "null_not_allowed",
            "/data/attributes/name",
        ),
    ] {
        let response = create_action(&app, &token, &attributes).await;
        assert_eq!(response.status().as_u16(), status, "{attributes}");
        let body = jsonapi(response).await;
        assert_eq!(body["errors"][0]["code"], code, "{body}");
        assert_eq!(body["errors"][0]["source"]["pointer"], pointer, "{body}");
    }
    let read_only = app.token(Some("actions:read")).await;
    expect_error(
        create_action(
            &app,
            &read_only,
            &json!({"name": "x", "trigger": "pre_token", "code": SEED}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let no_actions = app.token(Some("users:read")).await;
    expect_error(
        app.get("/api/actions", &no_actions).await,
        403,
        "insufficient_scope",
    )
    .await;
}

async fn the_seed_example_runs_as_written_on_every_token(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let before = claims_of(&token);
    let id = pre_token(&app, &token, SEED).await;
    let issued = app.token(None).await;
    let claims = claims_of(&issued);
    let keys = |c: &Value| {
        let mut k: Vec<String> = c.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&claims),
        keys(&before),
        "the same claims, nothing added"
    );
    assert_eq!(claims["sub"], CLIENT_ID);
    let runs = executions(&app, &issued, &id, 1).await;
    assert_eq!(runs[0]["type"], "action_execution");
    assert_eq!(runs[0]["attributes"]["outcome"], "ok");
    assert_eq!(runs[0]["attributes"]["error"], Value::Null);
    assert!(runs[0]["attributes"]["duration_ms"].as_u64().unwrap() < 100);
    assert!(runs[0]["attributes"]["executed_at"].is_string());
    assert_eq!(
        runs[0]["relationships"]["action"]["data"]["id"],
        id.as_str()
    );
    let link = runs[0]["links"]["self"].as_str().unwrap();
    let path = link.strip_prefix(&app.base).unwrap();
    let one = jsonapi(app.get(path, &issued).await).await;
    assert_eq!(one["data"]["attributes"], runs[0]["attributes"]);
    expect_error(
        app.get(
            &format!("/api/actions/{id}/executions/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            &issued,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

async fn returned_claims_are_added_and_reserved_claims_kept(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let id = pre_token(&app, &token, TIER).await;
    let issued = app.token(None).await;
    let claims = claims_of(&issued);
    assert_eq!(claims["https://example.com/tier"], "gold");
    assert_eq!(claims["client"], "Bootstrap client");
    assert_eq!(
        claims["sub"], CLIENT_ID,
        "a reserved claim keeps the server's value"
    );
    assert_eq!(
        app.get("/api/users", &issued).await.status(),
        200,
        "the token still works on the API"
    );
    let runs = executions(&app, &issued, &id, 1).await;
    assert_eq!(runs[0]["attributes"]["outcome"], "ok");
    assert_eq!(
        runs[0]["attributes"]["error"],
        "reserved claims cannot be changed; ignored: sub"
    );
}

async fn a_throw_is_access_denied_and_each_limit_a_server_error(store: Store) {
    // A limit a debug build's memory bomb reaches its memory limit within.
    let app = spawn_app_with(store, |s| s.actions.timeout_ms = 1000).await;
    let token = app.token(None).await;
    let id = pre_token(
        &app,
        &token,
        "export default async function(event) {\n  if (event.scopes.includes('users:delete')) { throw new Error('no deleting today'); }\n  if (event.scopes.includes('roles:read')) { while (true) {} }\n  if (event.scopes.includes('roles:write')) { const a = []; for (;;) a.push(new Array(100000).fill(1)); }\n  if (event.scopes.includes('roles:delete')) { const f = (n) => f(n + 1) + 1; return f(0); }\n  if (event.scopes.includes('clients:read')) { return new Promise(() => {}); }\n  return {};\n}",
    )
    .await;
    let denied = app.token_response(&[("scope", "users:delete")]).await;
    assert_eq!(denied.status(), 400);
    assert_eq!(denied.headers()["cache-control"], "no-store");
    let body: Value = denied.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": "no deleting today"})
    );
    for scope in ["roles:read", "roles:write", "roles:delete", "clients:read"] {
        let started = Instant::now();
        let failed = app.token_response(&[("scope", scope)]).await;
        assert_eq!(failed.status(), 500, "{scope}");
        let body: Value = failed.json().await.unwrap();
        assert_eq!(body["error"], "server_error", "{scope}");
        assert!(started.elapsed() < LIMIT + MARGIN, "{scope}");
    }
    assert_eq!(
        app.token_response(&[("scope", "users:read")])
            .await
            .status(),
        200,
        "the server is fine"
    );
    let runs = executions(&app, &token, &id, 6).await;
    let outcomes: Vec<&str> = runs
        .iter()
        .map(|r| r["attributes"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["ok", "timeout", "error", "memory", "timeout", "error"],
        "most recent first"
    );
    assert_eq!(runs[5]["attributes"]["error"], "no deleting today");
    assert!(runs[4]["attributes"]["duration_ms"].as_u64().unwrap() >= 100);
    assert!(
        runs[2]["attributes"]["error"]
            .as_str()
            .unwrap()
            .contains("RangeError")
    );
    let oldest_first = jsonapi(
        app.get(
            &format!("/api/actions/{id}/executions?sort=executed_at&page[size]=2"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(oldest_first["data"][0]["attributes"]["outcome"], "error");
    assert!(oldest_first["links"]["next"].is_string());
}

async fn a_disabled_action_does_not_run(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let id = pre_token(&app, &token, TIER).await;
    assert_eq!(
        claims_of(&app.token(None).await)["https://example.com/tier"],
        "gold"
    );
    let patched = app
        .patch(
            &format!("/api/actions/{id}"),
            &token,
            &json!({"data": {"type": "action", "id": id, "attributes": {"enabled": false}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let issued = app.token(None).await;
    assert_eq!(claims_of(&issued).get("https://example.com/tier"), None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    executions(&app, &token, &id, 1).await;
}

async fn tokens_for_other_clients_flow_while_one_action_loops(store: Store) {
    // A limit long enough for five tokens in a row on a loaded machine.
    let app = spawn_app_with(store, |s| s.actions.timeout_ms = 1000).await;
    let token = app.token(None).await;
    let (slow_id, slow_secret) = other_client(&app, &token, "Slow", "jwt").await;
    pre_token(
        &app,
        &token,
        &format!("export default function(event) {{ if (event.client.client_id === '{slow_id}') {{ for (;;) {{}} }} return {{ claims: {{ fast: true }} }}; }}"),
    )
    .await;
    // Warm the memo and the compiled code.
    assert_eq!(claims_of(&app.token(None).await)["fast"], true);

    let started = Instant::now();
    let slow = {
        let client = app.client.clone();
        let url = format!("{}/oauth/token", app.base);
        tokio::spawn(async move {
            let response = client
                .post(url)
                .basic_auth(&slow_id, Some(&slow_secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(15)).await;
    let mut fast = Vec::new();
    for _ in 0..5 {
        let response = token_response_for(&app, (CLIENT_ID, CLIENT_SECRET)).await;
        assert_eq!(response.status(), 200);
        fast.push(started.elapsed());
    }
    let (status, slow_elapsed) = slow.await.unwrap();
    assert_eq!(status, 500, "the looping action ends in a server error");
    assert!(slow_elapsed >= LIMIT, "{slow_elapsed:?}");
    let last_fast = *fast.last().unwrap();
    assert!(
        last_fast < slow_elapsed,
        "five tokens for another client ({fast:?}) came back before the looping one ({slow_elapsed:?})"
    );
}

async fn opaque_tokens_get_the_same_treatment(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (opaque_id, opaque_secret) = other_client(&app, &token, "Opaque", "opaque").await;
    pre_token(
        &app,
        &token,
        "export default async function(event) {\n  return { claims: { tier: 'gold', aud: 'https://evil.example', active: false, seen: event.claims.jti.length } };\n}",
    )
    .await;
    let response = token_response_for(&app, (&opaque_id, &opaque_secret)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let opaque = body["access_token"].as_str().unwrap().to_owned();
    assert!(!opaque.contains('.'), "an opaque token");
    let introspected: Value = app
        .client
        .post(format!("{}/oauth/introspect", app.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", opaque.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["tier"], "gold", "{introspected}");
    assert_eq!(introspected["seen"], 26, "the action saw the token's jti");
    assert_eq!(introspected["sub"], opaque_id.as_str());
    assert_ne!(
        introspected["aud"], "https://evil.example",
        "reserved claims kept"
    );
    let jwt_claims = claims_of(&app.token(None).await);
    assert_eq!(jwt_claims["tier"], "gold", "JWTs get the same claims");
    assert_eq!(
        jwt_claims["active"], false,
        "active is not reserved in a JWT"
    );
}

/// The action time limit of the tests below, and the generous margin
/// within which an answer must come after it (the machine may be loaded).
const LIMIT: Duration = Duration::from_secs(1);
const MARGIN: Duration = Duration::from_secs(3);
/// The review's action: one native call (a 313,000-digit `BigInt` to a
/// string, four times) that runs for seconds (about 11 s optimised, 40 s
/// in a debug build) without returning to the interpreter.
const NATIVE_FOR_SECONDS: &str = "export default function(){ const x = 2n**1040000n; return {claims:{l:[x,x,x,x].join().length}} }";

/// A token request of the bootstrap client: its status, body and time.
async fn timed_token(client: reqwest::Client, base: String) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap(), started.elapsed())
}

async fn a_native_call_past_the_limit_is_answered_at_the_limit_without_holding_up_another_environment(
    store: Store,
) {
    let app = spawn_app_with(store, |s| s.actions.timeout_ms = 1000).await;
    let token = app.token(None).await;
    let staging = app.create_staging().await;
    let staging_bearer = app.staging_token().await;
    let created = app
        .client
        .post(format!("{staging}/api/actions"))
        .bearer_auth(&staging_bearer)
        .header("content-type", "application/vnd.api+json")
        .body(
            document(&json!({"name": "Staging", "trigger": "pre_token",
                "code": "export default function() { return { claims: { staging: true } }; }"}))
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let staging_action = jsonapi(created).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let slow_action = pre_token(&app, &token, NATIVE_FOR_SECONDS).await;

    // More slow token requests than there are threads: the default
    // environment may hold half of them, the rest of its requests wait,
    // and their wait counts toward their limit.
    let slow: Vec<_> = (0..6)
        .map(|_| tokio::spawn(timed_token(app.client.clone(), app.base.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let response = app.staging_token_response().await;
    let staging_took = started.elapsed();
    assert_eq!(
        response.status(),
        200,
        "the staging action ran before its own deadline"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        claims_of(body["access_token"].as_str().unwrap())["staging"],
        true
    );
    assert!(staging_took < LIMIT + MARGIN, "{staging_took:?}");
    for slow in slow {
        let (status, body, took) = slow.await.unwrap();
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"], "server_error", "{body}");
        assert!(body["error_description"].is_string(), "{body}");
        assert!(took >= LIMIT, "{took:?}");
        assert!(took < LIMIT + MARGIN, "{took:?}");
    }
    let runs = executions(&app, &token, &slow_action, 6).await;
    for run in &runs {
        assert_eq!(run["attributes"]["outcome"], "timeout", "{run}");
        assert!(
            run["attributes"]["duration_ms"].as_u64().unwrap() >= 1000,
            "{run}"
        );
        assert_eq!(
            run["attributes"]["error"],
            "the action did not finish within the time limit"
        );
    }
    let listed: Value = app
        .client
        .get(format!("{staging}/api/actions/{staging_action}/executions"))
        .bearer_auth(&staging_bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"][0]["attributes"]["outcome"], "ok", "{listed}");
}

async fn running_out_of_memory_is_a_server_error_recorded_as_memory(store: Store) {
    // A long limit: the run must end by memory, even in a slow build.
    let app = spawn_app_with(store, |s| s.actions.timeout_ms = 10_000).await;
    let token = app.token(None).await;
    let id = pre_token(
        &app,
        &token,
        "export default function() { const a = \"x,\".repeat(4 * 1024 * 1024).split(\",\"); return { claims: { n: a.length } }; }",
    )
    .await;
    let (status, body, _) = timed_token(app.client.clone(), app.base.clone()).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "server_error", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    let runs = executions(&app, &token, &id, 1).await;
    assert_eq!(runs[0]["attributes"]["outcome"], "memory");
    assert_eq!(
        runs[0]["attributes"]["error"],
        "the action went over the memory limit"
    );
}

on_both_stores!(
    a_native_call_past_the_limit_is_answered_at_the_limit_without_holding_up_another_environment,
    running_out_of_memory_is_a_server_error_recorded_as_memory,
    opaque_tokens_get_the_same_treatment,
    an_action_goes_through_create_read_update_and_delete,
    bad_input_is_refused_with_pointers_and_the_engine_message,
    the_seed_example_runs_as_written_on_every_token,
    returned_claims_are_added_and_reserved_claims_kept,
    a_throw_is_access_denied_and_each_limit_a_server_error,
    a_disabled_action_does_not_run,
    tokens_for_other_clients_flow_while_one_action_loops,
);
