//! The users collection end to end.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, expect_error, jsonapi, spawn_app};

async fn a_user_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = app
        .post(
            "/api/users",
            &token,
            &json!({"data": {"type": "user", "attributes": {
                "email": "Jane.Doe@Example.com", "first_name": "Jane", "last_name": "Doe",
                "password": "secure_password", "password_confirmation": "secure_password",
                "metadata": {"plan": "pro"}
            }}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let user = &body["data"];
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/users/{id}", app.base));
    assert_eq!(user["type"], "user");
    assert_eq!(id.len(), 26);
    let attributes = &user["attributes"];
    assert_eq!(attributes["email"], "jane.doe@example.com");
    assert_eq!(attributes["metadata"], json!({"plan": "pro"}));
    assert_eq!(attributes["blocked"], false);
    assert!(attributes.get("password").is_none() && attributes.get("password_hash").is_none());
    assert!(!body.to_string().contains("secure_password") && !body.to_string().contains("$2"));
    assert!(attributes["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched = jsonapi(app.get(&format!("/api/users/{id}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    let patched = app
        .patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "id": id, "attributes": {"blocked": true, "last_name": null, "email_verified": true}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(patched["data"]["attributes"]["blocked"], true);
    assert_eq!(patched["data"]["attributes"]["last_name"], Value::Null);
    assert_eq!(patched["data"]["attributes"]["first_name"], "Jane");
    assert_eq!(patched["data"]["attributes"]["email_verified"], true);

    let deleted = app.delete(&format!("/api/users/{id}"), &token).await;
    assert_eq!(deleted.status(), 204);
    assert!(deleted.bytes().await.unwrap().is_empty());
    expect_error(
        app.get(&format!("/api/users/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/users/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
}

async fn emails_are_unique_per_environment_ignoring_case(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    app.create_user(&token, "dup@example.com").await;
    let again = app
        .post(
            "/api/users",
            &token,
            &json!({"data": {"type": "user", "attributes": {"email": "DUP@example.com"}}}),
        )
        .await;
    let error = expect_error(again, 409, "email_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/email");

    let other = app.create_user(&token, "other@example.com").await;
    let id = other["id"].as_str().unwrap();
    let clash = app
        .patch(&format!("/api/users/{id}"), &token, &json!({"data": {"type": "user", "id": id, "attributes": {"email": "Dup@Example.com"}}}))
        .await;
    expect_error(clash, 409, "email_taken").await;
}

async fn invalid_attributes_are_422_with_pointers_and_change_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = app
        .post(
            "/api/users",
            &token,
            &json!({"data": {"type": "user", "attributes": {
                "email": "not-an-email", "password": "short", "first_name": "x".repeat(101)
            }}}),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"]["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/data/attributes/email",
            "/data/attributes/first_name",
            "/data/attributes/password"
        ]
    );
    assert_eq!(body["errors"][0]["code"], "invalid_email");

    let mismatch = app
        .post("/api/users", &token, &json!({"data": {"type": "user", "attributes": {"email": "m@example.com", "password": "long enough", "password_confirmation": "long enougH"}}}))
        .await;
    let error = expect_error(mismatch, 422, "password_confirmation_mismatch").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/password_confirmation"
    );

    let too_long = app
        .post("/api/users", &token, &json!({"data": {"type": "user", "attributes": {"email": "l@example.com", "password": "p".repeat(73)}}}))
        .await;
    expect_error(too_long, 422, "password_too_long").await;

    let missing = app
        .post(
            "/api/users",
            &token,
            &json!({"data": {"type": "user", "attributes": {}}}),
        )
        .await;
    let error = expect_error(missing, 422, "email_required").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/email");

    let wrong_type = app.post("/api/users", &token, &json!({"data": {"type": "user", "attributes": {"email": "t@example.com", "blocked": "yes"}}})).await;
    let error = expect_error(wrong_type, 422, "invalid_type").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/blocked");

    let metadata = app.post("/api/users", &token, &json!({"data": {"type": "user", "attributes": {"email": "t@example.com", "metadata": [1]}}})).await;
    expect_error(metadata, 422, "invalid_type").await;

    let list = jsonapi(app.get("/api/users", &token).await).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );
}

async fn document_shape_errors_are_400_409_or_403(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let unknown = app.post("/api/users", &token, &json!({"data": {"type": "user", "attributes": {"email": "a@example.com", "role": "admin"}}})).await;
    let error = expect_error(unknown, 400, "unknown_attribute").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/role");

    let wrong_type = app
        .post(
            "/api/users",
            &token,
            &json!({"data": {"type": "role", "attributes": {"email": "a@example.com"}}}),
        )
        .await;
    expect_error(wrong_type, 409, "type_mismatch").await;

    let client_id = app.post("/api/users", &token, &json!({"data": {"type": "user", "id": "01HQ0000000000000000000000", "attributes": {"email": "a@example.com"}}})).await;
    expect_error(client_id, 403, "client_generated_id").await;

    let no_data = app
        .post("/api/users", &token, &json!({"email": "a@example.com"}))
        .await;
    expect_error(no_data, 400, "invalid_document").await;

    let user = app.create_user(&token, "a@example.com").await;
    let id = user["id"].as_str().unwrap();
    let other_id = "01HQ0000000000000000000000";
    let mismatch = app
        .patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "id": other_id, "attributes": {}}}),
        )
        .await;
    expect_error(mismatch, 409, "id_mismatch").await;
    let no_id = app
        .patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "attributes": {}}}),
        )
        .await;
    expect_error(no_id, 400, "invalid_document").await;
    let null_email = app
        .patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "id": id, "attributes": {"email": null}}}),
        )
        .await;
    expect_error(null_email, 422, "null_not_allowed").await;
    let missing = app.patch("/api/users/01HQ0000000000000000000000", &token, &json!({"data": {"type": "user", "id": "01HQ0000000000000000000000", "attributes": {}}})).await;
    expect_error(missing, 404, "not_found").await;
}

async fn lists_page_by_cursor_in_both_orders_and_filter(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let emails = [
        "carol@example.com",
        "alice@example.com",
        "bob@sample.org",
        "dave@example.com",
        "erin@example.com",
    ];
    let mut ids = Vec::new();
    for email in emails {
        ids.push(
            app.create_user(&token, email).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let blocked_id = ids[3].clone();
    app.patch(
        &format!("/api/users/{blocked_id}"),
        &token,
        &json!({"data": {"type": "user", "id": blocked_id, "attributes": {"blocked": true}}}),
    )
    .await;

    // Follow links.next through pages of two.
    let mut seen = Vec::new();
    let mut next = Some(format!("{}/api/users?page%5Bsize%5D=2", app.base));
    let mut pages = 0;
    while let Some(url) = next {
        let page = jsonapi(
            app.client
                .get(&url)
                .bearer_auth(&token)
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
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        assert!(page["links"]["self"].is_string());
        next = page["links"]["next"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids, "creation order across pages");

    let list = |query: &str| {
        let app = &app;
        let token = &token;
        let query = query.to_owned();
        async move {
            let response = app
                .client
                .get(format!("{}/api/users?{query}", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let body = jsonapi(response).await;
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["attributes"]["email"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut reversed: Vec<String> = emails.iter().map(|e| (*e).to_owned()).collect();
    reversed.reverse();
    assert_eq!(list("sort=-created_at").await, reversed);
    let mut sorted: Vec<String> = emails.iter().map(|e| (*e).to_owned()).collect();
    sorted.sort();
    assert_eq!(list("sort=email").await, sorted);

    // Pages by email, descending, through the cursor.
    let first = jsonapi(
        app.client
            .get(format!(
                "{}/api/users?sort=-email&page%5Bsize%5D=3",
                app.base
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        first["links"]["self"],
        format!("{}/api/users?sort=-email&page%5Bsize%5D=3", app.base),
        "links.self is the request's query, percent-encoded like links.next"
    );
    let next = first["links"]["next"].as_str().unwrap();
    let second = jsonapi(
        app.client
            .get(next)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let second: Vec<&str> = second["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["attributes"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(second, ["bob@sample.org", "alice@example.com"]);

    assert_eq!(
        list("filter%5Bemail%5D=ALICE%40example.com").await,
        ["alice@example.com"]
    );
    assert_eq!(list("filter%5Bsearch%5D=SAMPLE").await, ["bob@sample.org"]);
    assert_eq!(
        list("filter%5Bsearch%5D=%25").await,
        Vec::<String>::new(),
        "% is literal"
    );
    assert_eq!(list("filter%5Bblocked%5D=true").await, ["dave@example.com"]);
    assert_eq!(
        list("filter%5Bblocked%5D=false&filter%5Bsearch%5D=example.com")
            .await
            .len(),
        3
    );

    for (query, parameter) in [
        ("page%5Bsize%5D=0", "page[size]"),
        ("page%5Bsize%5D=501", "page[size]"),
        ("page%5Bafter%5D=bogus", "page[after]"),
        ("sort=password", "sort"),
        ("filter%5Bblocked%5D=maybe", "filter[blocked]"),
        ("filter%5Brole%5D=x", "filter[role]"),
    ] {
        let response = app
            .client
            .get(format!("{}/api/users?{query}", app.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body = jsonapi(response).await;
        assert_eq!(
            body["errors"][0]["source"]["parameter"], parameter,
            "{query}"
        );
    }
}

async fn scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let read_only = app.token(Some("users:read")).await;
    assert_eq!(app.get("/api/users", &read_only).await.status(), 200);
    let response = app
        .post(
            "/api/users",
            &read_only,
            &json!({"data": {"type": "user", "attributes": {"email": "x@example.com"}}}),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\", scope=\"users:write\""
    );
    expect_error(response, 403, "insufficient_scope").await;
    let writer = app.token(Some("users:write")).await;
    let user = app.create_user(&writer, "x@example.com").await;
    let id = user["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/users/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/users/{id}"), &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("users:delete")).await;
    assert_eq!(
        app.delete(&format!("/api/users/{id}"), &deleter)
            .await
            .status(),
        204
    );
}

on_both_stores!(
    a_user_goes_through_create_read_update_and_delete,
    emails_are_unique_per_environment_ignoring_case,
    invalid_attributes_are_422_with_pointers_and_change_nothing,
    document_shape_errors_are_400_409_or_403,
    lists_page_by_cursor_in_both_orders_and_filter,
    scopes_gate_each_method,
);
