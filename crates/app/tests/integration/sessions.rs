//! The sessions collection end to end: create, read, list, touch, revoke and
//! delete; the blocked-user rules; filters; expiry; cascades; scopes.

use portcullis_domain::Timestamp;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn session_document(user: &str, attributes: &Value) -> Value {
    json!({"data": {"type": "session", "attributes": attributes,
        "relationships": {"user": {"data": {"type": "user", "id": user}}}}})
}

async fn open(app: &TestApp, token: &str, user: &str, attributes: &Value) -> reqwest::Response {
    app.post("/api/sessions", token, &session_document(user, attributes))
        .await
}

async fn open_ok(app: &TestApp, token: &str, user: &str) -> Value {
    let response = open(app, token, user, &json!({})).await;
    assert_eq!(response.status(), 201);
    jsonapi(response).await["data"].clone()
}

async fn patch_action(
    app: &TestApp,
    token: &str,
    session: &str,
    action: &str,
) -> reqwest::Response {
    app.client
        .patch(format!("{}/api/sessions/{session}/{action}", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn ids(body: &Value) -> Vec<String> {
    body["data"].as_array().unwrap().iter().map(id).collect()
}

async fn a_session_goes_through_create_touch_revoke_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "ada@example.com").await);

    let created = open(
        &app,
        &token,
        &user,
        &json!({"ip_address": "2001:DB8::1", "user_agent": "curl/8.5"}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let session = &body["data"];
    let sid = id(session);
    assert_eq!(location, format!("{}/api/sessions/{sid}", app.base));
    assert_eq!(session["type"], "session");
    let attributes = &session["attributes"];
    assert_eq!(attributes["ip_address"], "2001:db8::1");
    assert_eq!(attributes["user_agent"], "curl/8.5");
    assert_eq!(attributes["status"], "active");
    assert_eq!(attributes["revoked_at"], Value::Null);
    assert_eq!(attributes["last_active_at"], attributes["created_at"]);
    // The default lifetime is 30 days.
    let created_at = Timestamp::parse_rfc3339(attributes["created_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        attributes["expires_at"],
        created_at.plus_seconds(30 * 24 * 3600).to_rfc3339()
    );
    assert_eq!(
        session["relationships"]["user"]["data"],
        json!({"type": "user", "id": user})
    );
    let fetched = jsonapi(app.get(&format!("/api/sessions/{sid}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);
    let listed = jsonapi(app.get("/api/sessions", &token).await).await;
    assert_eq!(listed["data"], json!([body["data"].clone()]));

    let touched = patch_action(&app, &token, &sid, "touch").await;
    assert_eq!(touched.status(), 200);
    let touched = jsonapi(touched).await;
    let last_active = touched["data"]["attributes"]["last_active_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(last_active.as_str() > attributes["created_at"].as_str().unwrap());
    assert_eq!(touched["data"]["attributes"]["status"], "active");

    let revoked = jsonapi(patch_action(&app, &token, &sid, "revoke").await).await;
    assert_eq!(revoked["data"]["attributes"]["status"], "revoked");
    let revoked_at = revoked["data"]["attributes"]["revoked_at"].clone();
    assert!(revoked_at.is_string());
    // Idempotent: 200, nothing changes, no second event.
    let again = patch_action(&app, &token, &sid, "revoke").await;
    assert_eq!(again.status(), 200);
    assert_eq!(jsonapi(again).await["data"], revoked["data"]);
    let error = expect_error(
        patch_action(&app, &token, &sid, "touch").await,
        409,
        "session_revoked",
    )
    .await;
    assert_eq!(error["status"], "409");
    let after = jsonapi(app.get(&format!("/api/sessions/{sid}"), &token).await).await;
    assert_eq!(
        after["data"]["attributes"]["last_active_at"],
        last_active.as_str()
    );

    assert_eq!(
        app.delete(&format!("/api/sessions/{sid}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/sessions/{sid}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        patch_action(&app, &token, &sid, "touch").await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/sessions/not-an-id", &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("session"),
        [
            "session.created",
            "session.touched",
            "session.revoked",
            "session.deleted"
        ]
    );
    let put = app
        .post(&format!("/api/sessions/{sid}/touch"), &token, &json!({}))
        .await;
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "PATCH");
}

async fn bad_input_is_refused_precisely_and_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "ada@example.com").await);
    let ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

    let error = expect_error(
        open(&app, &token, &user, &json!({"ip_address": "999.1.1.1"})).await,
        422,
        "invalid_ip_address",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/ip_address");
    let error = expect_error(
        open(&app, &token, &user, &json!({"user_agent": "x".repeat(513)})).await,
        422,
        "user_agent_too_long",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/user_agent");
    let error = expect_error(
        open(
            &app,
            &token,
            &user,
            &json!({"expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await,
        422,
        "expires_at_in_past",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/expires_at");
    expect_error(
        open(
            &app,
            &token,
            &user,
            &json!({"expires_at": "9999-01-01T00:00:00Z"}),
        )
        .await,
        422,
        "expires_at_too_far",
    )
    .await;
    expect_error(
        open(&app, &token, &user, &json!({"expires_at": "tomorrow"})).await,
        422,
        "invalid_expires_at",
    )
    .await;
    let error = expect_error(
        open(&app, &token, ghost, &json!({})).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");
    let missing = app
        .post(
            "/api/sessions",
            &token,
            &json!({"data": {"type": "session", "attributes": {}}}),
        )
        .await;
    let error = expect_error(missing, 422, "relationship_required").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user");
    expect_error(
        open(&app, &token, &user, &json!({"status": "revoked"})).await,
        400,
        "unknown_attribute",
    )
    .await;
    assert!(app.db.event_types("session").is_empty());
    let listed = jsonapi(app.get("/api/sessions", &token).await).await;
    assert_eq!(listed["data"], json!([]));
}

async fn blocking_a_user_revokes_its_sessions_and_refuses_new_ones(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "ada@example.com").await);
    let other = id(&app.create_user(&token, "bob@example.com").await);
    let s1 = id(&open_ok(&app, &token, &user).await);
    let s2 = id(&open_ok(&app, &token, &user).await);
    let kept = id(&open_ok(&app, &token, &other).await);
    let early = jsonapi(patch_action(&app, &token, &s2, "revoke").await).await;

    let blocked = app
        .patch(
            &format!("/api/users/{user}"),
            &token,
            &json!({"data": {"type": "user", "id": user, "attributes": {"blocked": true}}}),
        )
        .await;
    assert_eq!(blocked.status(), 200);
    let read = |sid: String| {
        let app = &app;
        let token = token.clone();
        async move {
            jsonapi(app.get(&format!("/api/sessions/{sid}"), &token).await).await["data"].clone()
        }
    };
    let first = read(s1.clone()).await;
    assert_eq!(first["attributes"]["status"], "revoked");
    assert!(first["attributes"]["revoked_at"].is_string());
    // The session revoked before keeps its revocation time.
    assert_eq!(read(s2.clone()).await, early["data"]);
    assert_eq!(read(kept.clone()).await["attributes"]["status"], "active");
    // One session.revoked per session (the earlier one and s1), written
    // with the user's update.
    assert_eq!(
        app.db.event_types("session"),
        [
            "session.created",
            "session.created",
            "session.created",
            "session.revoked",
            "session.revoked"
        ]
    );
    assert_eq!(
        app.db.event_types("user").last().map(String::as_str),
        Some("user.updated")
    );

    let error = expect_error(
        open(&app, &token, &user, &json!({})).await,
        409,
        "user_blocked",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");
    assert_eq!(app.db.event_types("session").len(), 5);

    // Blocking again revokes nothing new; unblocking does not revive.
    for blocked in [true, false] {
        let response = app
            .patch(
                &format!("/api/users/{user}"),
                &token,
                &json!({"data": {"type": "user", "id": user, "attributes": {"blocked": blocked}}}),
            )
            .await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(app.db.event_types("session").len(), 5);
    assert_eq!(read(s1.clone()).await, first);
    // Unblocked, the user may sign in again.
    open_ok(&app, &token, &user).await;

    // Deleting a user deletes its sessions.
    assert_eq!(
        app.delete(&format!("/api/users/{user}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/sessions/{s1}"), &token).await,
        404,
        "not_found",
    )
    .await;
    let left = jsonapi(app.get("/api/sessions", &token).await).await;
    assert_eq!(ids(&left), [kept]);
}

async fn filters_select_by_user_and_activity_and_pages_follow(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let u1 = id(&app.create_user(&token, "ada@example.com").await);
    let u2 = id(&app.create_user(&token, "bob@example.com").await);
    let a = id(&open_ok(&app, &token, &u1).await);
    let b = id(&open_ok(&app, &token, &u1).await);
    let c = id(&open_ok(&app, &token, &u2).await);
    patch_action(&app, &token, &b, "revoke").await;

    let list = |query: String| {
        let app = &app;
        let token = token.clone();
        async move { jsonapi(app.get(&format!("/api/sessions{query}"), &token).await).await }
    };
    assert_eq!(
        ids(&list(format!("?filter[user]={u1}")).await),
        [a.clone(), b.clone()]
    );
    assert_eq!(
        ids(&list("?filter[active]=true".into()).await),
        [a.clone(), c.clone()]
    );
    assert_eq!(
        ids(&list("?filter[active]=false".into()).await),
        [b.as_str()]
    );
    assert_eq!(
        ids(&list(format!("?filter[user]={u1}&filter[active]=true")).await),
        [a.as_str()]
    );
    assert_eq!(
        ids(&list("?sort=-created_at".into()).await),
        [c.clone(), b.clone(), a.clone()]
    );
    let first = list("?page[size]=2".into()).await;
    assert_eq!(ids(&first), [a.clone(), b.clone()]);
    let next = first["links"]["next"].as_str().unwrap();
    let path = next.strip_prefix(&app.base).unwrap();
    let second = jsonapi(app.get(path, &token).await).await;
    assert_eq!(ids(&second), [c.as_str()]);
    assert!(second["links"].get("next").is_none_or(Value::is_null));

    expect_error(
        app.get("/api/sessions?filter[active]=maybe", &token).await,
        400,
        "invalid_query_parameter",
    )
    .await;
    expect_error(
        app.get("/api/sessions?filter[status]=active", &token).await,
        400,
        "invalid_query_parameter",
    )
    .await;
}

async fn a_session_expires_with_the_clock(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "ada@example.com").await);
    let probe = open_ok(&app, &token, &user).await;
    let now =
        Timestamp::parse_rfc3339(probe["attributes"]["created_at"].as_str().unwrap()).unwrap();
    let expires_at = now.plus_seconds(2).to_rfc3339();
    let created = open(&app, &token, &user, &json!({"expires_at": expires_at})).await;
    assert_eq!(created.status(), 201);
    let sid = id(&jsonapi(created).await["data"]);
    tokio::time::sleep(std::time::Duration::from_millis(2_200)).await;

    let read = jsonapi(app.get(&format!("/api/sessions/{sid}"), &token).await).await;
    assert_eq!(read["data"]["attributes"]["status"], "expired");
    assert_eq!(read["data"]["attributes"]["expires_at"], expires_at);
    expect_error(
        patch_action(&app, &token, &sid, "touch").await,
        409,
        "session_expired",
    )
    .await;
    let inactive = jsonapi(app.get("/api/sessions?filter[active]=false", &token).await).await;
    assert_eq!(ids(&inactive), [sid.as_str()]);
    // An expired session can still be revoked.
    let revoked = jsonapi(patch_action(&app, &token, &sid, "revoke").await).await;
    assert_eq!(revoked["data"]["attributes"]["status"], "revoked");
}

async fn session_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let user = id(&app.create_user(&admin, "ada@example.com").await);
    let users_only = app.token(Some("users:read users:write users:delete")).await;
    expect_error(
        open(&app, &users_only, &user, &json!({})).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/api/sessions", &users_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("sessions:write")).await;
    let created = open(&app, &writer, &user, &json!({})).await;
    assert_eq!(created.status(), 201);
    let sid = id(&jsonapi(created).await["data"]);
    assert_eq!(
        patch_action(&app, &writer, &sid, "touch").await.status(),
        200
    );
    expect_error(
        app.get(&format!("/api/sessions/{sid}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/sessions/{sid}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let reader = app.token(Some("sessions:read")).await;
    expect_error(
        patch_action(&app, &reader, &sid, "revoke").await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/sessions/{sid}"), &reader)
            .await
            .status(),
        200
    );
}

on_both_stores!(
    a_session_goes_through_create_touch_revoke_and_delete,
    bad_input_is_refused_precisely_and_changes_nothing,
    blocking_a_user_revokes_its_sessions_and_refuses_new_ones,
    filters_select_by_user_and_activity_and_pages_follow,
    a_session_expires_with_the_clock,
    session_scopes_gate_each_method,
);
