//! The permissions collection end to end.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, expect_error, jsonapi, spawn_app};

async fn a_permission_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {
                "name": " read:reports ", "description": "Read every report"
            }}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let permission = &body["data"];
    let id = permission["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/permissions/{id}", app.base));
    assert_eq!(permission["type"], "permission");
    assert_eq!(id.len(), 26);
    let attributes = &permission["attributes"];
    assert_eq!(attributes["name"], "read:reports", "trimmed");
    assert_eq!(attributes["description"], "Read every report");
    assert!(attributes["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(attributes["created_at"], attributes["updated_at"]);
    assert_eq!(app.db.event_types("permission"), ["permission.created"]);

    let fetched = jsonapi(app.get(&format!("/api/permissions/{id}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    let patched = app
        .patch(
            &format!("/api/permissions/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": id, "attributes": {"name": "Read:Reports"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(
        patched["data"]["attributes"]["name"], "Read:Reports",
        "case is kept"
    );
    assert_eq!(
        patched["data"]["attributes"]["description"],
        "Read every report"
    );
    let listed = jsonapi(app.get("/api/permissions", &token).await).await;
    assert_eq!(listed["data"], json!([patched["data"].clone()]));

    let deleted = app.delete(&format!("/api/permissions/{id}"), &token).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());
    expect_error(
        app.get(&format!("/api/permissions/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/permissions/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("permission"),
        [
            "permission.created",
            "permission.updated",
            "permission.deleted"
        ],
        "one event per change, none for failed requests"
    );
}

async fn names_are_unique_per_environment(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    app.create_permission(&token, "read:reports").await;
    let again = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {"name": "read:reports"}}}),
        )
        .await;
    let error = expect_error(again, 409, "name_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");

    let other = app.create_permission(&token, "write:reports").await;
    let id = other["id"].as_str().unwrap();
    let clash = app
        .patch(
            &format!("/api/permissions/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": id, "attributes": {"name": "read:reports"}}}),
        )
        .await;
    let error = expect_error(clash, 409, "name_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    assert_eq!(
        app.db.event_types("permission"),
        ["permission.created", "permission.created"],
        "conflicts roll back without an event"
    );
}

async fn invalid_attributes_are_422_with_pointers_and_change_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {
                "name": "read reports", "description": "x".repeat(501)
            }}}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let errors: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_str().unwrap(),
                e["source"]["pointer"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("invalid_name", "/data/attributes/name"),
            ("description_too_long", "/data/attributes/description")
        ]
    );

    let missing = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {}}}),
        )
        .await;
    let error = expect_error(missing, 422, "name_required").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");

    let wrong_type = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {"name": 7}}}),
        )
        .await;
    let error = expect_error(wrong_type, 422, "invalid_type").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");

    let permission = app.create_permission(&token, "read:reports").await;
    let id = permission["id"].as_str().unwrap();
    let blank = app
        .patch(
            &format!("/api/permissions/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": id, "attributes": {"name": "  "}}}),
        )
        .await;
    let error = expect_error(blank, 422, "invalid_name").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let null_name = app
        .patch(
            &format!("/api/permissions/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": id, "attributes": {"name": null}}}),
        )
        .await;
    expect_error(null_name, 422, "null_not_allowed").await;

    let list = jsonapi(app.get("/api/permissions", &token).await).await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["attributes"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["read:reports"],
        "nothing else was created or changed"
    );
    assert_eq!(app.db.event_types("permission"), ["permission.created"]);
}

async fn document_shape_errors_are_400_409_or_404(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let unknown = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "permission", "attributes": {"name": "a", "resource": "x"}}}),
        )
        .await;
    let error = expect_error(unknown, 400, "unknown_attribute").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/resource");

    let wrong_type = app
        .post(
            "/api/permissions",
            &token,
            &json!({"data": {"type": "role", "attributes": {"name": "a"}}}),
        )
        .await;
    expect_error(wrong_type, 409, "type_mismatch").await;

    let permission = app.create_permission(&token, "a").await;
    let id = permission["id"].as_str().unwrap();
    let other_id = "01HQ0000000000000000000000";
    let mismatch = app
        .patch(
            &format!("/api/permissions/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": other_id, "attributes": {"name": "b"}}}),
        )
        .await;
    expect_error(mismatch, 409, "id_mismatch").await;
    let missing = app
        .patch(
            &format!("/api/permissions/{other_id}"),
            &token,
            &json!({"data": {"type": "permission", "id": other_id, "attributes": {}}}),
        )
        .await;
    expect_error(missing, 404, "not_found").await;
    expect_error(
        app.get("/api/permissions/not-a-ulid", &token).await,
        404,
        "not_found",
    )
    .await;

    let put = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/permissions/{id}"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(put.headers()["allow"], "GET, PATCH, DELETE");
    expect_error(put, 405, "method_not_allowed").await;
    let put = app
        .send_json(reqwest::Method::PUT, "/api/permissions", &token, &json!({}))
        .await;
    assert_eq!(put.headers()["allow"], "GET, POST");
    expect_error(put, 405, "method_not_allowed").await;
}

async fn lists_page_by_cursor_in_both_orders(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let names = ["e:x", "a:x", "c:x", "b:x", "d:x"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(
            app.create_permission(&token, name).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    let follow = |start: String| {
        let app = &app;
        let token = &token;
        async move {
            let mut seen = Vec::new();
            let mut next = Some(start);
            let mut pages = 0;
            while let Some(url) = next {
                let page = jsonapi(
                    app.client
                        .get(&url)
                        .bearer_auth(token)
                        .send()
                        .await
                        .unwrap(),
                )
                .await;
                pages += 1;
                seen.extend(
                    page["data"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["id"].as_str().unwrap().to_owned()),
                );
                assert!(page["links"]["self"].is_string());
                next = page["links"]["next"].as_str().map(str::to_owned);
            }
            (pages, seen)
        }
    };
    let (pages, seen) = follow(format!("{}/api/permissions?page%5Bsize%5D=2", app.base)).await;
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "creation order across pages");
    let (pages, seen) = follow(format!(
        "{}/api/permissions?sort=-created_at&page%5Bsize%5D=3",
        app.base
    ))
    .await;
    assert_eq!(pages, 2);
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(seen, reversed);

    for (query, parameter) in [
        ("page%5Bsize%5D=0", "page[size]"),
        ("page%5Bafter%5D=bogus", "page[after]"),
        ("sort=name", "sort"),
        ("filter%5Bname%5D=x", "filter[name]"),
    ] {
        let response = app
            .client
            .get(format!("{}/api/permissions?{query}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = jsonapi(response).await;
        assert_eq!(
            body["errors"][0]["source"]["parameter"], parameter,
            "{query}"
        );
    }
}

async fn scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let read_only = app.token(Some("permissions:read")).await;
    assert_eq!(app.get("/api/permissions", &read_only).await.status(), 200);
    let response = app
        .post(
            "/api/permissions",
            &read_only,
            &json!({"data": {"type": "permission", "attributes": {"name": "x"}}}),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"permissions:write\""
    );
    expect_error(response, 403, "insufficient_scope").await;
    let users_only = app.token(Some("users:read users:write")).await;
    expect_error(
        app.get("/api/permissions", &users_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("permissions:write")).await;
    let permission = app.create_permission(&writer, "x").await;
    let id = permission["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/permissions/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/permissions/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("permissions:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/permissions/{id}"), &deleter)
            .await
            .status(),
        204
    );
}

on_both_stores!(
    a_permission_goes_through_create_read_update_and_delete,
    names_are_unique_per_environment,
    invalid_attributes_are_422_with_pointers_and_change_nothing,
    document_shape_errors_are_400_409_or_404,
    lists_page_by_cursor_in_both_orders,
    scopes_gate_each_method,
);
