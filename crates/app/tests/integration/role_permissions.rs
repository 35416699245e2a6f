//! The role-permissions collection end to end: grants, counts, conflicts,
//! filters, cascades and scopes.

use portcullis_application::environments::BootstrapCredentials;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, expect_error, jsonapi, spawn_app};

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

async fn permission_count(app: &crate::support::TestApp, token: &str, role: &str) -> Value {
    let body = jsonapi(app.get(&format!("/api/roles/{role}"), token).await).await;
    body["data"]["attributes"]["permission_count"].clone()
}

async fn a_grant_goes_through_create_read_list_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let role = id(&app.create_role(&token, "admin").await);
    let permission = id(&app.create_permission(&token, "read:reports").await);

    let created = app.grant(&token, &role, &permission).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let join = &body["data"];
    let join_id = id(join);
    assert_eq!(
        location,
        format!("{}/api/role-permissions/{join_id}", app.base)
    );
    assert_eq!(join["type"], "role_permission");
    assert_eq!(
        join["relationships"]["role"]["data"],
        json!({"type": "role", "id": role})
    );
    assert_eq!(
        join["relationships"]["permission"]["data"],
        json!({"type": "permission", "id": permission})
    );
    assert_eq!(permission_count(&app, &token, &role).await, 1);
    let listed_roles = jsonapi(app.get("/api/roles", &token).await).await;
    assert_eq!(listed_roles["data"][0]["attributes"]["permission_count"], 1);

    let fetched = jsonapi(
        app.get(&format!("/api/role-permissions/{join_id}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"], body["data"]);
    let listed = jsonapi(app.get("/api/role-permissions", &token).await).await;
    assert_eq!(listed["data"], json!([body["data"].clone()]));

    let duplicate = app.grant(&token, &role, &permission).await;
    expect_error(duplicate, 409, "duplicate").await;

    let deleted = app
        .delete(&format!("/api/role-permissions/{join_id}"), &token)
        .await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/role-permissions/{join_id}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/role-permissions/{join_id}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(permission_count(&app, &token, &role).await, 0);
    assert_eq!(
        app.db.event_types("role_permission"),
        ["role_permission.created", "role_permission.deleted"],
        "the duplicate rolled back without an event"
    );
}

async fn unknown_ends_and_bad_documents_are_refused(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let role = id(&app.create_role(&token, "admin").await);
    let permission = id(&app.create_permission(&token, "read:reports").await);
    let ghost = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

    let error = expect_error(
        app.grant(&token, ghost, &permission).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role/data");
    let error = expect_error(
        app.grant(&token, &role, ghost).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/permission/data"
    );
    let error = expect_error(
        app.grant(&token, "not-an-id", &permission).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role/data");

    // A role of another environment is unknown here.
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
        .post(format!("{staging}/api/roles"))
        .bearer_auth(staging_token)
        .header("content-type", crate::support::JSONAPI)
        .body(json!({"data": {"type": "role", "attributes": {"name": "foreign"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 201);
    let foreign = id(&jsonapi(foreign).await["data"]);
    let error = expect_error(
        app.grant(&token, &foreign, &permission).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role/data");

    let post = |document: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.post("/api/role-permissions", &token, &document).await }
    };
    let missing = post(json!({"data": {"type": "role_permission",
        "relationships": {"role": {"data": {"type": "role", "id": role}}}}}))
    .await;
    let error = expect_error(missing, 422, "relationship_required").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/permission");
    let wrong_type = post(
        json!({"data": {"type": "role_permission", "relationships": {
        "role": {"data": {"type": "permission", "id": role}},
        "permission": {"data": {"type": "permission", "id": permission}}}}}),
    )
    .await;
    let error = expect_error(wrong_type, 409, "type_mismatch").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/role/data/type"
    );
    let to_many = post(
        json!({"data": {"type": "role_permission", "relationships": {
        "role": {"data": [{"type": "role", "id": role}]},
        "permission": {"data": {"type": "permission", "id": permission}}}}}),
    )
    .await;
    let error = expect_error(to_many, 400, "invalid_document").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/role/data");
    let unknown = post(
        json!({"data": {"type": "role_permission", "relationships": {
        "user": {"data": {"type": "user", "id": role}}}}}),
    )
    .await;
    let error = expect_error(unknown, 400, "unknown_relationship").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user");
    let attribute =
        post(json!({"data": {"type": "role_permission", "attributes": {"role": role}}})).await;
    expect_error(attribute, 400, "unknown_attribute").await;
    let wrong_kind = post(json!({"data": {"type": "role", "relationships": {}}})).await;
    expect_error(wrong_kind, 409, "type_mismatch").await;
    assert!(app.db.event_types("role_permission").is_empty());
    let patch = app
        .patch(
            &format!("/api/role-permissions/{ghost}"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(patch.status(), 405);
}

async fn filters_select_by_role_and_permission(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (r1, r2) = (
        id(&app.create_role(&token, "r1").await),
        id(&app.create_role(&token, "r2").await),
    );
    let (p1, p2) = (
        id(&app.create_permission(&token, "p1").await),
        id(&app.create_permission(&token, "p2").await),
    );
    let mut joins = Vec::new();
    for (role, permission) in [(&r1, &p1), (&r1, &p2), (&r2, &p1)] {
        let response = app.grant(&token, role, permission).await;
        assert_eq!(response.status(), 201);
        joins.push(id(&jsonapi(response).await["data"]));
    }
    let ids =
        |body: &Value| -> Vec<String> { body["data"].as_array().unwrap().iter().map(id).collect() };
    let by_role = jsonapi(
        app.get(&format!("/api/role-permissions?filter[role]={r1}"), &token)
            .await,
    )
    .await;
    assert_eq!(ids(&by_role), [joins[0].clone(), joins[1].clone()]);
    let by_permission = jsonapi(
        app.get(
            &format!("/api/role-permissions?filter[permission]={p1}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(ids(&by_permission), [joins[0].clone(), joins[2].clone()]);
    let both = jsonapi(
        app.get(
            &format!("/api/role-permissions?filter[role]={r2}&filter[permission]={p1}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(ids(&both), [joins[2].clone()]);
    let first = jsonapi(app.get("/api/role-permissions?page[size]=2", &token).await).await;
    assert_eq!(ids(&first), [joins[0].clone(), joins[1].clone()]);
    let next = first["links"]["next"].as_str().unwrap();
    let second = jsonapi(app.get(next.strip_prefix(&app.base).unwrap(), &token).await).await;
    assert_eq!(ids(&second), [joins[2].clone()]);
    let error = expect_error(
        app.get("/api/role-permissions?filter[role]=nope", &token)
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_eq!(error["source"]["parameter"], "filter[role]");
    let response = app
        .get("/api/role-permissions?filter[user]=x", &token)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(permission_count(&app, &token, &r1).await, 2);
}

async fn deleting_a_role_or_permission_deletes_its_grants(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (r1, r2) = (
        id(&app.create_role(&token, "r1").await),
        id(&app.create_role(&token, "r2").await),
    );
    let (p1, p2) = (
        id(&app.create_permission(&token, "p1").await),
        id(&app.create_permission(&token, "p2").await),
    );
    for (role, permission) in [(&r1, &p1), (&r1, &p2), (&r2, &p1), (&r2, &p2)] {
        assert_eq!(app.grant(&token, role, permission).await.status(), 201);
    }
    let count = |body: Value| body["data"].as_array().unwrap().len();
    assert_eq!(
        count(jsonapi(app.get("/api/role-permissions", &token).await).await),
        4
    );
    assert_eq!(
        app.delete(&format!("/api/roles/{r1}"), &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        count(jsonapi(app.get("/api/role-permissions", &token).await).await),
        2
    );
    assert_eq!(
        app.delete(&format!("/api/permissions/{p1}"), &token)
            .await
            .status(),
        204
    );
    let left = jsonapi(app.get("/api/role-permissions", &token).await).await;
    assert_eq!(
        left["data"][0]["relationships"]["role"]["data"]["id"],
        r2.as_str()
    );
    assert_eq!(
        left["data"][0]["relationships"]["permission"]["data"]["id"],
        p2.as_str()
    );
    assert_eq!(count(left), 1);
    assert_eq!(permission_count(&app, &token, &r2).await, 1);
}

async fn role_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let role = id(&app.create_role(&admin, "admin").await);
    let permission = id(&app.create_permission(&admin, "read:reports").await);
    let permissions_only = app
        .token(Some(
            "permissions:read permissions:write permissions:delete",
        ))
        .await;
    expect_error(
        app.grant(&permissions_only, &role, &permission).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/api/role-permissions", &permissions_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("roles:write")).await;
    let created = app.grant(&writer, &role, &permission).await;
    assert_eq!(created.status(), 201);
    let join = id(&jsonapi(created).await["data"]);
    expect_error(
        app.get(&format!("/api/role-permissions/{join}"), &writer)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/role-permissions/{join}"), &writer)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let reader = app.token(Some("roles:read")).await;
    assert_eq!(
        app.get(&format!("/api/role-permissions/{join}"), &reader)
            .await
            .status(),
        200
    );
    let deleter = app.token(Some("roles:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/role-permissions/{join}"), &deleter)
            .await
            .status(),
        204
    );
}

on_both_stores!(
    a_grant_goes_through_create_read_list_and_delete,
    unknown_ends_and_bad_documents_are_refused,
    filters_select_by_role_and_permission,
    deleting_a_role_or_permission_deletes_its_grants,
    role_scopes_gate_each_method,
);
