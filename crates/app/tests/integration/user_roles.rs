//! The user-roles collection end to end: assignments, counts, conflicts,
//! filters, cascades and scopes.

use portcullis_application::environments::BootstrapCredentials;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, expect_error, jsonapi, spawn_app};

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

async fn user_count(app: &crate::support::TestApp, token: &str, role: &str) -> Value {
    let body = jsonapi(app.get(&format!("/api/roles/{role}"), token).await).await;
    body["data"]["attributes"]["user_count"].clone()
}

async fn an_assignment_goes_through_create_read_list_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "admin@example.com").await);
    let role = id(&app.create_role(&token, "read:reports").await);

    let created = app.assign(&token, &user, &role).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let join = &body["data"];
    let join_id = id(join);
    assert_eq!(location, format!("{}/api/user-roles/{join_id}", app.base));
    assert_eq!(join["type"], "user_role");
    assert_eq!(
        join["relationships"]["user"]["data"],
        json!({"type": "user", "id": user})
    );
    assert_eq!(
        join["relationships"]["role"]["data"],
        json!({"type": "role", "id": role})
    );
    assert_eq!(user_count(&app, &token, &role).await, 1);
    let listed_roles = jsonapi(app.get("/api/roles", &token).await).await;
    assert_eq!(listed_roles["data"][0]["attributes"]["user_count"], 1);

    let fetched = jsonapi(app.get(&format!("/api/user-roles/{join_id}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);
    let listed = jsonapi(app.get("/api/user-roles", &token).await).await;
    assert_eq!(listed["data"], json!([body["data"].clone()]));

    let duplicate = app.assign(&token, &user, &role).await;
    expect_error(duplicate, 409, "duplicate").await;

    let deleted = app
        .delete(&format!("/api/user-roles/{join_id}"), &token)
        .await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/user-roles/{join_id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/user-roles/{join_id}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(user_count(&app, &token, &role).await, 0);
    assert_eq!(
        app.db.event_types("user_role"),
        ["user_role.created", "user_role.deleted"],
        "the duplicate rolled back without an event"
    );
}

async fn unknown_ends_and_bad_documents_are_refused(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "admin@example.com").await);
    let role = id(&app.create_role(&token, "read:reports").await);
    let ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

    let error = expect_error(
        app.assign(&token, ghost, &role).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");
    let error = expect_error(
        app.assign(&token, &user, ghost).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role/data");
    let error = expect_error(
        app.assign(&token, "not-an-id", &role).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");

    // A user of another environment is unknown here.
    app.environments
        .create(
            "staging",
            Some(BootstrapCredentials {
                client_id: "staging-client".into(),
                client_secret: SecretString::from("staging-secret-staging-secret-staging"),
            }),
        )
        .await
        .unwrap();
    let staging = app.issuer("staging");
    let response: Value = app
        .client
        .post(format!("{staging}/oauth/token"))
        .basic_auth(
            "staging-client",
            Some("staging-secret-staging-secret-staging"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staging_token = response["access_token"].as_str().unwrap();
    let foreign = app
        .client
        .post(format!("{staging}/api/users"))
        .bearer_auth(staging_token)
        .header("content-type", crate::support::JSONAPI)
        .body(
            json!({"data": {"type": "user", "attributes": {"email": "foreign@example.com"}}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 201);
    let foreign = id(&jsonapi(foreign).await["data"]);
    let error = expect_error(
        app.assign(&token, &foreign, &role).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");

    let post = |document: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.post("/api/user-roles", &token, &document).await }
    };
    let missing = post(json!({"data": {"type": "user_role",
        "relationships": {"user": {"data": {"type": "user", "id": user}}}}}))
    .await;
    let error = expect_error(missing, 422, "relationship_required").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role");
    let wrong_type = post(json!({"data": {"type": "user_role", "relationships": {
        "user": {"data": {"type": "role", "id": user}},
        "role": {"data": {"type": "role", "id": role}}}}}))
    .await;
    let error = expect_error(wrong_type, 409, "type_mismatch").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/user/data/type"
    );
    let to_many = post(json!({"data": {"type": "user_role", "relationships": {
        "user": {"data": [{"type": "user", "id": user}]},
        "role": {"data": {"type": "role", "id": role}}}}}))
    .await;
    let error = expect_error(to_many, 400, "invalid_document").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");
    let unknown = post(json!({"data": {"type": "user_role", "relationships": {
        "permission": {"data": {"type": "permission", "id": user}}}}}))
    .await;
    let error = expect_error(unknown, 400, "unknown_relationship").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/permission");
    let attribute =
        post(json!({"data": {"type": "user_role", "attributes": {"user": user}}})).await;
    expect_error(attribute, 400, "unknown_attribute").await;
    let wrong_kind = post(json!({"data": {"type": "user", "relationships": {}}})).await;
    expect_error(wrong_kind, 409, "type_mismatch").await;
    assert!(app.db.event_types("user_role").is_empty());
    let patch = app
        .patch(&format!("/api/user-roles/{ghost}"), &token, &json!({}))
        .await;
    assert_eq!(patch.status(), 405);
}

async fn filters_select_by_user_and_role(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (r1, r2) = (
        id(&app.create_user(&token, "r1@example.com").await),
        id(&app.create_user(&token, "r2@example.com").await),
    );
    let (p1, p2) = (
        id(&app.create_role(&token, "p1").await),
        id(&app.create_role(&token, "p2").await),
    );
    let mut joins = Vec::new();
    for (user, role) in [(&r1, &p1), (&r1, &p2), (&r2, &p1)] {
        let response = app.assign(&token, user, role).await;
        assert_eq!(response.status(), 201);
        joins.push(id(&jsonapi(response).await["data"]));
    }
    let ids =
        |body: &Value| -> Vec<String> { body["data"].as_array().unwrap().iter().map(id).collect() };
    let by_user = jsonapi(
        app.get(&format!("/api/user-roles?filter[user]={r1}"), &token)
            .await,
    )
    .await;
    assert_eq!(ids(&by_user), [joins[0].clone(), joins[1].clone()]);
    let by_role = jsonapi(
        app.get(&format!("/api/user-roles?filter[role]={p1}"), &token)
            .await,
    )
    .await;
    assert_eq!(ids(&by_role), [joins[0].clone(), joins[2].clone()]);
    let both = jsonapi(
        app.get(
            &format!("/api/user-roles?filter[user]={r2}&filter[role]={p1}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(ids(&both), [joins[2].clone()]);
    let first = jsonapi(app.get("/api/user-roles?page[size]=2", &token).await).await;
    assert_eq!(ids(&first), [joins[0].clone(), joins[1].clone()]);
    let next = first["links"]["next"].as_str().unwrap();
    let second = jsonapi(app.get(next.strip_prefix(&app.base).unwrap(), &token).await).await;
    assert_eq!(ids(&second), [joins[2].clone()]);
    let error = expect_error(
        app.get("/api/user-roles?filter[user]=nope", &token).await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_eq!(error["source"]["parameter"], "filter[user]");
    let response = app.get("/api/user-roles?filter[user]=x", &token).await;
    assert_eq!(response.status(), 400);
    assert_eq!(user_count(&app, &token, &p1).await, 2);
}

async fn deleting_a_user_or_role_deletes_its_assignments(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (r1, r2) = (
        id(&app.create_user(&token, "r1@example.com").await),
        id(&app.create_user(&token, "r2@example.com").await),
    );
    let (p1, p2) = (
        id(&app.create_role(&token, "p1").await),
        id(&app.create_role(&token, "p2").await),
    );
    for (user, role) in [(&r1, &p1), (&r1, &p2), (&r2, &p1), (&r2, &p2)] {
        assert_eq!(app.assign(&token, user, role).await.status(), 201);
    }
    let count = |body: Value| body["data"].as_array().unwrap().len();
    assert_eq!(
        count(jsonapi(app.get("/api/user-roles", &token).await).await),
        4
    );
    assert_eq!(
        app.delete(&format!("/api/users/{r1}"), &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        count(jsonapi(app.get("/api/user-roles", &token).await).await),
        2
    );
    assert_eq!(
        app.delete(&format!("/api/roles/{p1}"), &token)
            .await
            .status(),
        204
    );
    let left = jsonapi(app.get("/api/user-roles", &token).await).await;
    assert_eq!(
        left["data"][0]["relationships"]["user"]["data"]["id"],
        r2.as_str()
    );
    assert_eq!(
        left["data"][0]["relationships"]["role"]["data"]["id"],
        p2.as_str()
    );
    assert_eq!(count(left), 1);
    assert_eq!(user_count(&app, &token, &p2).await, 1);
}

async fn user_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let user = id(&app.create_user(&admin, "admin@example.com").await);
    let role = id(&app.create_role(&admin, "read:reports").await);
    let roles_only = app.token(Some("roles:read roles:write roles:delete")).await;
    expect_error(
        app.assign(&roles_only, &user, &role).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/api/user-roles", &roles_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("users:write")).await;
    let created = app.assign(&writer, &user, &role).await;
    assert_eq!(created.status(), 201);
    let join = id(&jsonapi(created).await["data"]);
    expect_error(
        app.get(&format!("/api/user-roles/{join}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/user-roles/{join}"), &writer)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let reader = app.token(Some("users:read")).await;
    assert_eq!(
        app.get(&format!("/api/user-roles/{join}"), &reader)
            .await
            .status(),
        200
    );
    let deleter = app.token(Some("users:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/user-roles/{join}"), &deleter)
            .await
            .status(),
        204
    );
}

on_both_stores!(
    an_assignment_goes_through_create_read_list_and_delete,
    unknown_ends_and_bad_documents_are_refused,
    filters_select_by_user_and_role,
    deleting_a_user_or_role_deletes_its_assignments,
    user_scopes_gate_each_method,
);
