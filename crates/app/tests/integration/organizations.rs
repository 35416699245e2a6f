//! The organizations collection end to end: create, read, list, update,
//! delete, `member_count`, the cascade to memberships, validation, events
//! and scopes.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn create_organization(app: &TestApp, token: &str, name: &str) -> Value {
    let response = app
        .post(
            "/api/organizations",
            token,
            &json!({"data": {"type": "organization", "attributes": {"name": name}}}),
        )
        .await;
    assert_eq!(response.status(), 201, "create organization {name}");
    jsonapi(response).await["data"].clone()
}

pub(crate) async fn admit(
    app: &TestApp,
    token: &str,
    user: &str,
    organization: &str,
    roles: &[&str],
) -> reqwest::Response {
    let roles: Vec<Value> = roles
        .iter()
        .map(|r| json!({"type": "role", "id": r}))
        .collect();
    app.post(
        "/api/memberships",
        token,
        &json!({"data": {"type": "membership", "relationships": {
            "user": {"data": {"type": "user", "id": user}},
            "organization": {"data": {"type": "organization", "id": organization}},
            "roles": {"data": roles}
        }}}),
    )
    .await
}

async fn member_count(app: &TestApp, token: &str, organization: &str) -> Value {
    let body = jsonapi(
        app.get(&format!("/api/organizations/{organization}"), token)
            .await,
    )
    .await;
    body["data"]["attributes"]["member_count"].clone()
}

async fn an_organization_goes_through_create_read_list_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;

    let created = app
        .post(
            "/api/organizations",
            &token,
            &json!({"data": {"type": "organization", "attributes": {
                "name": "  Acme Inc  ", "metadata": {"tier": "gold"}}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let organization = &body["data"];
    let org = id(organization);
    assert_eq!(location, format!("{}/api/organizations/{org}", app.base));
    assert_eq!(organization["type"], "organization");
    assert_eq!(organization["attributes"]["name"], "Acme Inc");
    assert_eq!(
        organization["attributes"]["metadata"],
        json!({"tier": "gold"})
    );
    assert_eq!(organization["attributes"]["member_count"], 0);

    let fetched = jsonapi(app.get(&format!("/api/organizations/{org}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    let user = id(&app.create_user(&token, "jane@example.com").await);
    assert_eq!(admit(&app, &token, &user, &org, &[]).await.status(), 201);
    assert_eq!(member_count(&app, &token, &org).await, 1);
    let other = id(&create_organization(&app, &token, "Globex").await);
    let listed = jsonapi(app.get("/api/organizations?sort=-created_at", &token).await).await;
    let counts: Vec<_> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (id(o), o["attributes"]["member_count"].clone()))
        .collect();
    assert_eq!(counts, [(other.clone(), json!(0)), (org.clone(), json!(1))]);
    let first = jsonapi(app.get("/api/organizations?page[size]=1", &token).await).await;
    assert_eq!(id(&first["data"][0]), org);
    let next = first["links"]["next"].as_str().unwrap();
    let second = jsonapi(app.get(next.trim_start_matches(&app.base), &token).await).await;
    assert_eq!(id(&second["data"][0]), other);

    let updated = app
        .patch(
            &format!("/api/organizations/{org}"),
            &token,
            &json!({"data": {"type": "organization", "id": org, "attributes": {"name": "Acme Corp"}}}),
        )
        .await;
    assert_eq!(updated.status(), 200);
    let updated = jsonapi(updated).await;
    assert_eq!(updated["data"]["attributes"]["name"], "Acme Corp");
    assert_eq!(
        updated["data"]["attributes"]["metadata"],
        json!({"tier": "gold"})
    );
    assert_eq!(updated["data"]["attributes"]["member_count"], 1);

    // Deleting the organization deletes its memberships.
    let deleted = app
        .delete(&format!("/api/organizations/{org}"), &token)
        .await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/organizations/{org}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/organizations/{org}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let memberships = jsonapi(app.get("/api/memberships", &token).await).await;
    assert_eq!(memberships["data"], json!([]));
    assert_eq!(
        app.db.event_types("organization"),
        [
            "organization.created",
            "organization.created",
            "organization.updated",
            "organization.deleted"
        ]
    );
}

async fn bad_attributes_are_refused_and_change_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let post = |attributes: Value| {
        let (app, token) = (&app, token.clone());
        async move {
            app.post(
                "/api/organizations",
                &token,
                &json!({"data": {"type": "organization", "attributes": attributes}}),
            )
            .await
        }
    };
    let error = expect_error(post(json!({})).await, 422, "name_required").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let error = expect_error(post(json!({"name": "   "})).await, 422, "invalid_name").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let error = expect_error(
        post(json!({"name": "x".repeat(201)})).await,
        422,
        "invalid_name",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let error = expect_error(
        post(json!({"name": "Acme", "metadata": {"blob": "x".repeat(17 * 1024)}})).await,
        422,
        "metadata_too_large",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/metadata");
    let error = expect_error(
        post(json!({"name": "Acme", "metadata": [1]})).await,
        422,
        "invalid_type",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/metadata");
    let error = expect_error(
        post(json!({"name": "Acme", "member_count": 3})).await,
        422,
        "read_only_attribute",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/member_count");
    let error = expect_error(
        post(json!({"name": "Acme", "slug": "acme"})).await,
        400,
        "unknown_attribute",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/slug");

    let org = id(&create_organization(&app, &token, "Acme").await);
    let patch = |document: Value| {
        let (app, token, path) = (&app, token.clone(), format!("/api/organizations/{org}"));
        async move { app.patch(&path, &token, &document).await }
    };
    let error = expect_error(
        patch(json!({"data": {"type": "organization", "id": org, "attributes": {"name": null}}}))
            .await,
        422,
        "null_not_allowed",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    expect_error(
        patch(json!({"data": {"type": "organization", "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "attributes": {}}})).await,
        409,
        "id_mismatch",
    )
    .await;
    expect_error(
        patch(json!({"data": {"type": "role", "id": org, "attributes": {}}})).await,
        409,
        "type_mismatch",
    )
    .await;
    expect_error(
        app.patch(
            "/api/organizations/01ARZ3NDEKTSV4RRFFQ69G5FAV",
            &token,
            &json!({"data": {"type": "organization", "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "attributes": {}}}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let unchanged = jsonapi(app.get(&format!("/api/organizations/{org}"), &token).await).await;
    assert_eq!(unchanged["data"]["attributes"]["name"], "Acme");
    assert_eq!(app.db.event_types("organization"), ["organization.created"]);
}

async fn organization_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let org = id(&create_organization(&app, &admin, "Acme").await);
    let path = format!("/api/organizations/{org}");
    let roles_only = app.token(Some("roles:read roles:write roles:delete")).await;
    expect_error(
        app.get("/api/organizations", &roles_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(app.get(&path, &roles_only).await, 403, "insufficient_scope").await;
    let writer = app.token(Some("organizations:write")).await;
    expect_error(app.get(&path, &writer).await, 403, "insufficient_scope").await;
    expect_error(app.delete(&path, &writer).await, 403, "insufficient_scope").await;
    let patched = app
        .patch(
            &path,
            &writer,
            &json!({"data": {"type": "organization", "id": org, "attributes": {"name": "Acme 2"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let reader = app.token(Some("organizations:read")).await;
    assert_eq!(app.get(&path, &reader).await.status(), 200);
    expect_error(
        app.post(
            "/api/organizations",
            &reader,
            &json!({"data": {"type": "organization", "attributes": {"name": "X"}}}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("organizations:delete")).await;
    assert_eq!(app.delete(&path, &deleter).await.status(), 204);
    let put = app
        .client
        .put(format!("{}/api/organizations", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers()["allow"], "GET, POST");
}

on_both_stores!(
    an_organization_goes_through_create_read_list_update_and_delete,
    bad_attributes_are_refused_and_change_nothing,
    organization_scopes_gate_each_method,
);
