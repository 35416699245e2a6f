//! The roles collection end to end.

use serde_json::json;

use crate::on_both_stores;
use crate::support::{Store, expect_error, jsonapi, spawn_app};

async fn a_role_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = app
        .post(
            "/api/roles",
            &token,
            &json!({"data": {"type": "role", "attributes": {
                "name": " Report Readers ", "description": "Reads reports"
            }}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let role = &body["data"];
    let id = role["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/roles/{id}", app.base));
    assert_eq!(role["type"], "role");
    let attributes = &role["attributes"];
    assert_eq!(attributes["name"], "Report Readers", "trimmed");
    assert_eq!(attributes["description"], "Reads reports");
    assert_eq!(attributes["user_count"], 0);
    assert_eq!(attributes["permission_count"], 0);
    assert_eq!(attributes["created_at"], attributes["updated_at"]);

    let fetched = jsonapi(app.get(&format!("/api/roles/{id}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    let patched = app
        .patch(
            &format!("/api/roles/{id}"),
            &token,
            &json!({"data": {"type": "role", "id": id, "attributes": {"name": "Readers"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(patched["data"]["attributes"]["name"], "Readers");
    assert_eq!(
        patched["data"]["attributes"]["description"],
        "Reads reports"
    );
    assert_eq!(patched["data"]["attributes"]["permission_count"], 0);
    let listed = jsonapi(app.get("/api/roles", &token).await).await;
    assert_eq!(listed["data"], json!([patched["data"].clone()]));

    let deleted = app.delete(&format!("/api/roles/{id}"), &token).await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/roles/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/roles/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("role"),
        ["role.created", "role.updated", "role.deleted"]
    );
}

async fn names_are_unique_and_invalid_attributes_are_422(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    app.create_role(&token, "admin").await;
    let again = app
        .post(
            "/api/roles",
            &token,
            &json!({"data": {"type": "role", "attributes": {"name": "admin"}}}),
        )
        .await;
    let error = expect_error(again, 409, "name_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let other = app.create_role(&token, "editor").await;
    let id = other["id"].as_str().unwrap();
    let clash = app
        .patch(
            &format!("/api/roles/{id}"),
            &token,
            &json!({"data": {"type": "role", "id": id, "attributes": {"name": "admin"}}}),
        )
        .await;
    expect_error(clash, 409, "name_taken").await;

    let invalid = app
        .post(
            "/api/roles",
            &token,
            &json!({"data": {"type": "role", "attributes": {"name": "  ", "description": "x".repeat(501)}}}),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let body = jsonapi(invalid).await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"]["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/data/attributes/name", "/data/attributes/description"]
    );
    let unknown = app
        .post(
            "/api/roles",
            &token,
            &json!({"data": {"type": "role", "attributes": {"name": "x", "user_count": 3}}}),
        )
        .await;
    expect_error(unknown, 400, "unknown_attribute").await;
    let related = app
        .post(
            "/api/roles",
            &token,
            &json!({"data": {"type": "role", "attributes": {"name": "x"},
                "relationships": {"permission": {"data": {"type": "permission", "id": "x"}}}}}),
        )
        .await;
    expect_error(related, 400, "unknown_relationship").await;
    assert_eq!(app.db.event_types("role"), ["role.created", "role.created"]);
}

async fn lists_page_with_counts(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for name in ["a", "b", "c"] {
        app.create_role(&token, name).await;
    }
    let first = jsonapi(app.get("/api/roles?page[size]=2", &token).await).await;
    let names: Vec<&str> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    let next = first["links"]["next"].as_str().unwrap();
    let path = next.strip_prefix(&app.base).unwrap();
    let second = jsonapi(app.get(path, &token).await).await;
    assert_eq!(second["data"][0]["attributes"]["name"], "c");
    assert!(second["links"]["next"].is_null());
    let back = jsonapi(
        app.get("/api/roles?sort=-created_at&page[size]=1", &token)
            .await,
    )
    .await;
    assert_eq!(back["data"][0]["attributes"]["name"], "c");
    assert_eq!(back["data"][0]["attributes"]["user_count"], 0);
}

async fn scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let read_only = app.token(Some("roles:read")).await;
    assert_eq!(app.get("/api/roles", &read_only).await.status(), 200);
    let response = app
        .post(
            "/api/roles",
            &read_only,
            &json!({"data": {"type": "role", "attributes": {"name": "x"}}}),
        )
        .await;
    expect_error(response, 403, "insufficient_scope").await;
    let permissions_only = app.token(Some("permissions:read permissions:write")).await;
    expect_error(
        app.get("/api/roles", &permissions_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("roles:write")).await;
    let role = app.create_role(&writer, "x").await;
    let id = role["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/roles/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/roles/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("roles:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/roles/{id}"), &deleter)
            .await
            .status(),
        204
    );
}

on_both_stores!(
    a_role_goes_through_create_read_update_and_delete,
    names_are_unique_and_invalid_attributes_are_422,
    lists_page_with_counts,
    scopes_gate_each_method,
);
