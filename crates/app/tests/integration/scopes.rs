//! The scopes collection end to end: the resource server relationship,
//! names unique per resource server, the forbidden system scopes, and the
//! grants a rename rewrites and a deletion prunes.

use portcullis_application::environments::BootstrapCredentials;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::resource_servers::{bootstrap_grant, create_server, grant_bootstrap};
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

const ORDERS: &str = "https://orders.example.com/api";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn scope_document(name: &str, server: &str) -> Value {
    json!({"data": {"type": "scope", "attributes": {"name": name},
        "relationships": {"resource_server": {"data": {"type": "resource_server", "id": server}}}}})
}

async fn create_scope(app: &TestApp, token: &str, name: &str, server: &str) -> Value {
    let response = app
        .post("/api/scopes", token, &scope_document(name, server))
        .await;
    assert_eq!(response.status(), 201, "create scope {name}");
    jsonapi(response).await["data"].clone()
}

async fn orders(app: &TestApp, token: &str) -> String {
    id(&create_server(app, token, json!({"name": "Orders", "identifier": ORDERS})).await)
}

/// The `scope` events (the environment's bootstrap writes none).
fn events(app: &TestApp) -> Vec<String> {
    app.db.event_types("scope")
}

async fn a_scope_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let created = app
        .post(
            "/api/scopes",
            &token,
            &json!({"data": {"type": "scope", "attributes": {"name": "orders:read", "description": "Read orders"},
                "relationships": {"resource_server": {"data": {"type": "resource_server", "id": rs}}}}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let scope = &body["data"];
    let sid = id(scope);
    assert_eq!(location, format!("{}/api/scopes/{sid}", app.base));
    assert_eq!(scope["type"], "scope");
    assert_eq!(scope["attributes"]["name"], "orders:read");
    assert_eq!(scope["attributes"]["description"], "Read orders");
    assert_eq!(
        scope["relationships"]["resource_server"]["data"],
        json!({"type": "resource_server", "id": rs})
    );
    let fetched = jsonapi(app.get(&format!("/api/scopes/{sid}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    let other = create_scope(&app, &token, "orders:write", &rs).await;
    let filtered = jsonapi(
        app.get(&format!("/api/scopes?filter[resource_server]={rs}"), &token)
            .await,
    )
    .await;
    assert_eq!(filtered["data"], json!([body["data"].clone(), other]));
    let all = jsonapi(app.get("/api/scopes?page[size]=500", &token).await).await;
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        portcullis_domain::oauth::management_api_scopes().len() + 2,
        "the Management API's scopes are listed too"
    );
    let paged = jsonapi(
        app.get(
            &format!("/api/scopes?filter[resource_server]={rs}&page[size]=1&sort=-created_at"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(paged["data"][0]["attributes"]["name"], "orders:write");
    assert!(paged["links"]["next"].is_string());
    expect_error(
        app.get("/api/scopes?filter[resource_server]=nope", &token)
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;

    let patched = app
        .patch(
            &format!("/api/scopes/{sid}"),
            &token,
            &json!({"data": {"type": "scope", "id": sid, "attributes": {"description": "Reads"},
                "relationships": {"resource_server": {"data": {"type": "resource_server", "id": rs}}}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(patched["data"]["attributes"]["description"], "Reads");
    assert_eq!(patched["data"]["attributes"]["name"], "orders:read");

    assert_eq!(
        app.delete(&format!("/api/scopes/{sid}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/scopes/{sid}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/scopes/{sid}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        events(&app),
        [
            "scope.created",
            "scope.created",
            "scope.updated",
            "scope.deleted"
        ]
    );
}

async fn names_are_unique_per_resource_server_and_422s_point_at_the_fault(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let billing = id(&create_server(
        &app,
        &token,
        json!({"name": "Billing", "identifier": "urn:billing"}),
    )
    .await);
    create_scope(&app, &token, "read", &rs).await;
    create_scope(&app, &token, "read", &billing).await;
    let again = app
        .post("/api/scopes", &token, &scope_document("read", &rs))
        .await;
    let error = expect_error(again, 409, "name_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");
    let write = id(&create_scope(&app, &token, "write", &rs).await);
    let clash = app
        .patch(
            &format!("/api/scopes/{write}"),
            &token,
            &json!({"data": {"type": "scope", "id": write, "attributes": {"name": "read"}}}),
        )
        .await;
    let error = expect_error(clash, 409, "name_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/name");

    for bad in ["orders read", "", "a\"b", "é"] {
        let response = app
            .post("/api/scopes", &token, &scope_document(bad, &rs))
            .await;
        let error = expect_error(response, 422, "invalid_name").await;
        assert_eq!(
            error["source"]["pointer"], "/data/attributes/name",
            "{bad:?}"
        );
    }
    let unknown = ulid::Ulid::generate().to_string();
    for server in [unknown.as_str(), "not-an-id"] {
        let response = app
            .post("/api/scopes", &token, &scope_document("x", server))
            .await;
        let error = expect_error(response, 422, "invalid_relationship").await;
        assert_eq!(
            error["source"]["pointer"],
            "/data/relationships/resource_server/data"
        );
    }
    let missing = app
        .post(
            "/api/scopes",
            &token,
            &json!({"data": {"type": "scope", "attributes": {"name": "x"}}}),
        )
        .await;
    let error = expect_error(missing, 422, "relationship_required").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/resource_server"
    );

    // A resource server of another environment is unknown here.
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
    let foreign = app
        .store
        .read(|tx| {
            let env = tx
                .find_environment_by_slug("staging")?
                .ok_or(StoreError::NotFound)?;
            tx.find_system_resource_server(env.id)
        })
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();
    let response = app
        .post("/api/scopes", &token, &scope_document("x", &foreign))
        .await;
    expect_error(response, 422, "invalid_relationship").await;
    expect_error(
        app.get(&format!("/api/resource-servers/{foreign}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;

    // A scope keeps its resource server.
    let moved = app
        .patch(
            &format!("/api/scopes/{write}"),
            &token,
            &json!({"data": {"type": "scope", "id": write, "attributes": {},
                "relationships": {"resource_server": {"data": {"type": "resource_server", "id": billing}}}}}),
        )
        .await;
    let error = expect_error(moved, 422, "resource_server_immutable").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/resource_server/data"
    );
    assert_eq!(
        events(&app),
        ["scope.created", "scope.created", "scope.created"],
        "failures write nothing"
    );
}

async fn the_system_resource_servers_scopes_are_forbidden_to_change(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let servers = jsonapi(app.get("/api/resource-servers", &token).await).await;
    let system = id(&servers["data"][0]);
    assert_eq!(servers["data"][0]["attributes"]["system"], true);
    let scopes = jsonapi(
        app.get(
            &format!("/api/scopes?filter[resource_server]={system}&page[size]=500"),
            &token,
        )
        .await,
    )
    .await;
    let names: Vec<&str> = scopes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["attributes"]["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"resource_servers:write"), "{names:?}");
    let users_read = scopes["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attributes"]["name"] == "users:read")
        .unwrap();
    let sid = id(users_read);
    let grant_events = app.db.event_types("client_grant");

    let created = app
        .post("/api/scopes", &token, &scope_document("extra", &system))
        .await;
    expect_error(created, 403, "system_resource_server").await;
    let patched = app
        .patch(
            &format!("/api/scopes/{sid}"),
            &token,
            &json!({"data": {"type": "scope", "id": sid, "attributes": {"name": "users:peek"}}}),
        )
        .await;
    expect_error(patched, 403, "system_resource_server").await;
    expect_error(
        app.delete(&format!("/api/scopes/{sid}"), &token).await,
        403,
        "system_resource_server",
    )
    .await;
    let fetched = jsonapi(app.get(&format!("/api/scopes/{sid}"), &token).await).await;
    assert_eq!(&fetched["data"], users_read);
    assert!(events(&app).is_empty());
    assert_eq!(
        app.db.event_types("client_grant"),
        grant_events,
        "no grant rewritten"
    );
    let reader = app.token(Some("users:read")).await;
    assert_eq!(app.get("/api/users", &reader).await.status(), 200);
}

async fn renames_rewrite_and_deletions_prune_the_grants(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let read = id(&create_scope(&app, &token, "orders:read", &rs).await);
    let write = id(&create_scope(&app, &token, "orders:write", &rs).await);
    grant_bootstrap(&app, &rs, &["orders:read", "orders:write"]).await;
    let grant_events = app.db.event_types("client_grant").len();
    let issued: Value = app
        .token_response(&[("resource", ORDERS)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["scope"], "orders:read orders:write");

    let renamed = app
        .patch(
            &format!("/api/scopes/{read}"),
            &token,
            &json!({"data": {"type": "scope", "id": read, "attributes": {"name": "orders:list"}}}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let grant = bootstrap_grant(&app, &rs).await.unwrap();
    assert_eq!(grant.allowed_scopes, ["orders:list", "orders:write"]);
    let issued: Value = app
        .token_response(&[("resource", ORDERS)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["scope"], "orders:list orders:write", "seen at once");

    assert_eq!(
        app.delete(&format!("/api/scopes/{write}"), &token)
            .await
            .status(),
        204
    );
    let grant = bootstrap_grant(&app, &rs).await.unwrap();
    assert_eq!(grant.allowed_scopes, ["orders:list"]);
    let issued = app
        .token_response(&[("resource", ORDERS), ("scope", "orders:write")])
        .await;
    assert_eq!(
        issued.status(),
        400,
        "the pruned scope is no longer granted"
    );

    // A scope no grant names touches no grant.
    let spare = id(&create_scope(&app, &token, "orders:spare", &rs).await);
    assert_eq!(
        app.delete(&format!("/api/scopes/{spare}"), &token)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.db.event_types("client_grant")[grant_events..],
        ["client_grant.updated", "client_grant.updated"],
        "one event per grant rewritten"
    );
    assert_eq!(
        events(&app),
        [
            "scope.created",
            "scope.created",
            "scope.updated",
            "scope.deleted",
            "scope.created",
            "scope.deleted"
        ]
    );
}

on_both_stores!(
    a_scope_goes_through_create_read_update_and_delete,
    names_are_unique_per_resource_server_and_422s_point_at_the_fault,
    the_system_resource_servers_scopes_are_forbidden_to_change,
    renames_rewrite_and_deletions_prune_the_grants,
);
