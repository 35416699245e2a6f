//! The resource-servers collection end to end: defaults, the fixed
//! identifier, the forbidden system resource server, cascades, and the token
//! endpoint seeing each change at once.

use portcullis_domain::oauth::ClientGrant;
use portcullis_domain::{ClientGrantId, ResourceServerId, Timestamp};
use portcullis_ports::store::{StoreError, UnitOfWork};
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, Store, TestApp, expect_error, jsonapi, spawn_app};

const ORDERS: &str = "https://orders.example.com/api";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

/// Creates a resource server and returns its resource object.
pub(crate) async fn create_server(app: &TestApp, token: &str, attributes: Value) -> Value {
    let response = app
        .post(
            "/api/resource-servers",
            token,
            &json!({"data": {"type": "resource_server", "attributes": attributes}}),
        )
        .await;
    assert_eq!(response.status(), 201, "create resource server");
    jsonapi(response).await["data"].clone()
}

/// Grants the bootstrap client `scopes` of resource server `id`, through the store.
pub(crate) async fn grant_bootstrap(app: &TestApp, server: &str, scopes: &[&str]) -> ClientGrantId {
    let server = ResourceServerId::parse(server).unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let grant_id = ClientGrantId::from_ulid(ulid::Ulid::generate());
    app.store
        .transaction(move |tx| {
            let env = tx
                .find_environment_by_slug("default")?
                .ok_or(StoreError::NotFound)?;
            let client = tx
                .find_client_by_client_id(env.id, CLIENT_ID)?
                .ok_or(StoreError::NotFound)?;
            tx.insert_client_grant(&ClientGrant {
                id: grant_id,
                environment_id: env.id,
                client_id: client.id,
                resource_server_id: server,
                allowed_scopes: scopes,
                created_at: Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap(),
            })
        })
        .await
        .unwrap();
    grant_id
}

/// The bootstrap client's grant for resource server `id`, read from the store.
pub(crate) async fn bootstrap_grant(app: &TestApp, server: &str) -> Option<ClientGrant> {
    let server = ResourceServerId::parse(server).unwrap();
    app.store
        .read(move |tx| {
            let env = tx
                .find_environment_by_slug("default")?
                .ok_or(StoreError::NotFound)?;
            let client = tx
                .find_client_by_client_id(env.id, CLIENT_ID)?
                .ok_or(StoreError::NotFound)?;
            tx.find_client_grant(env.id, client.id, server)
        })
        .await
        .unwrap()
}

/// The `resource_server` events after the one the environment's bootstrap wrote.
fn events(app: &TestApp) -> Vec<String> {
    let mut all = app.db.event_types("resource_server");
    assert_eq!(
        all.first().map(String::as_str),
        Some("resource_server.created"),
        "bootstrap"
    );
    all.remove(0);
    all
}

async fn system_server(app: &TestApp, token: &str) -> Value {
    let list = jsonapi(app.get("/api/resource-servers", token).await).await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| rs["attributes"]["system"] == true)
        .expect("the system resource server is listed")
        .clone()
}

async fn a_resource_server_goes_through_create_read_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let created = app
        .post(
            "/api/resource-servers",
            &token,
            &json!({"data": {"type": "resource_server", "attributes": {
                "name": " Orders ", "identifier": ORDERS
            }}}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let server = &body["data"];
    let rs = id(server);
    assert_eq!(location, format!("{}/api/resource-servers/{rs}", app.base));
    assert_eq!(server["type"], "resource_server");
    let attributes = &server["attributes"];
    assert_eq!(attributes["name"], "Orders", "trimmed");
    assert_eq!(attributes["identifier"], ORDERS);
    assert_eq!(attributes["token_lifetime"], 3600, "default lifetime");
    assert_eq!(attributes["system"], false);
    assert_eq!(attributes["created_at"], attributes["updated_at"]);
    let fetched = jsonapi(
        app.get(&format!("/api/resource-servers/{rs}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"], body["data"]);

    // The token endpoint remembers the client with this audience...
    grant_bootstrap(&app, &rs, &[]).await;
    let issued: Value = app
        .token_response(&[("resource", ORDERS)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["expires_in"], 3600);

    // ...and sees a new lifetime at once. The same identifier is accepted.
    let patched = app
        .patch(
            &format!("/api/resource-servers/{rs}"),
            &token,
            &json!({"data": {"type": "resource_server", "id": rs, "attributes": {
                "token_lifetime": 60, "identifier": ORDERS, "name": "Orders v2"
            }}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    assert_eq!(patched["data"]["attributes"]["token_lifetime"], 60);
    assert_eq!(patched["data"]["attributes"]["name"], "Orders v2");
    assert_eq!(patched["data"]["attributes"]["identifier"], ORDERS);
    let issued: Value = app
        .token_response(&[("resource", ORDERS)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["expires_in"], 60, "the memo was forgotten");

    let listed = jsonapi(app.get("/api/resource-servers", &token).await).await;
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "the system one and ours");
    assert_eq!(data[1], patched["data"]);

    // Deleting it deletes its scopes and grants.
    let scope = app
        .post(
            "/api/scopes",
            &token,
            &json!({"data": {"type": "scope", "attributes": {"name": "orders:read"},
                "relationships": {"resource_server": {"data": {"type": "resource_server", "id": rs}}}}}),
        )
        .await;
    assert_eq!(scope.status(), 201);
    let scope = id(&jsonapi(scope).await["data"]);
    let deleted = app
        .delete(&format!("/api/resource-servers/{rs}"), &token)
        .await;
    assert_eq!(deleted.status(), 204);
    assert!(bootstrap_grant(&app, &rs).await.is_none(), "grant cascaded");
    expect_error(
        app.get(&format!("/api/scopes/{scope}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/api/resource-servers/{rs}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.token_response(&[("resource", ORDERS)]).await.status(),
        400,
        "the token endpoint forgot the audience"
    );
    expect_error(
        app.delete(&format!("/api/resource-servers/{rs}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        events(&app),
        [
            "resource_server.created",
            "resource_server.updated",
            "resource_server.deleted"
        ]
    );
}

async fn the_identifier_is_unique_and_fixed(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let server = create_server(
        &app,
        &token,
        json!({"name": "Orders", "identifier": ORDERS}),
    )
    .await;
    let rs = id(&server);
    let again = app
        .post(
            "/api/resource-servers",
            &token,
            &json!({"data": {"type": "resource_server", "attributes": {
                "name": "Orders again", "identifier": ORDERS
            }}}),
        )
        .await;
    let error = expect_error(again, 409, "identifier_taken").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/identifier");

    let moved = app
        .patch(
            &format!("/api/resource-servers/{rs}"),
            &token,
            &json!({"data": {"type": "resource_server", "id": rs, "attributes": {
                "identifier": "https://elsewhere.example.com", "name": "Renamed"
            }}}),
        )
        .await;
    let error = expect_error(moved, 422, "identifier_immutable").await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/identifier");
    let fetched = jsonapi(
        app.get(&format!("/api/resource-servers/{rs}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"], server, "nothing changed");
    assert_eq!(events(&app), ["resource_server.created"]);
}

async fn the_system_resource_server_is_forbidden_to_change(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let system = system_server(&app, &token).await;
    let rs = id(&system);
    assert_eq!(
        system["attributes"]["identifier"],
        format!("{}/api", app.base)
    );
    let patched = app
        .patch(
            &format!("/api/resource-servers/{rs}"),
            &token,
            &json!({"data": {"type": "resource_server", "id": rs, "attributes": {"token_lifetime": 60}}}),
        )
        .await;
    expect_error(patched, 403, "system_resource_server").await;
    expect_error(
        app.delete(&format!("/api/resource-servers/{rs}"), &token)
            .await,
        403,
        "system_resource_server",
    )
    .await;
    let fetched = jsonapi(
        app.get(&format!("/api/resource-servers/{rs}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"], system);
    assert!(events(&app).is_empty());
    assert_eq!(app.token_response(&[]).await.status(), 200, "still usable");
}

async fn invalid_attributes_are_422_with_pointers(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = app
        .post(
            "/api/resource-servers",
            &token,
            &json!({"data": {"type": "resource_server", "attributes": {
                "name": " ", "identifier": "orders", "token_lifetime": 86_401
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
            ("invalid_identifier", "/data/attributes/identifier"),
            ("invalid_token_lifetime", "/data/attributes/token_lifetime"),
        ]
    );
    for (attributes, status, code, pointer) in [
        (
            json!({"name": "A"}),
            422,
            "identifier_required",
            "/data/attributes/identifier",
        ),
        (
            json!({"identifier": ORDERS}),
            422,
            "name_required",
            "/data/attributes/name",
        ),
        (
            json!({"name": "A", "identifier": ORDERS, "token_lifetime": "60"}),
            422,
            "invalid_type",
            "/data/attributes/token_lifetime",
        ),
        (
            json!({"name": "A", "identifier": ORDERS, "token_lifetime": 60.5}),
            422,
            "invalid_type",
            "/data/attributes/token_lifetime",
        ),
        (
            json!({"name": "A", "identifier": ORDERS, "system": true}),
            400,
            "unknown_attribute",
            "/data/attributes/system",
        ),
    ] {
        let response = app
            .post(
                "/api/resource-servers",
                &token,
                &json!({"data": {"type": "resource_server", "attributes": attributes}}),
            )
            .await;
        let error = expect_error(response, status, code).await;
        assert_eq!(error["source"]["pointer"], pointer, "{attributes}");
    }
    let server = create_server(
        &app,
        &token,
        json!({"name": "A", "identifier": ORDERS, "token_lifetime": 60}),
    )
    .await;
    let rs = id(&server);
    for (attributes, code, pointer) in [
        (
            json!({"token_lifetime": 59}),
            "invalid_token_lifetime",
            "/data/attributes/token_lifetime",
        ),
        (
            json!({"name": null}),
            "null_not_allowed",
            "/data/attributes/name",
        ),
        (
            json!({"identifier": null}),
            "null_not_allowed",
            "/data/attributes/identifier",
        ),
    ] {
        let response = app
            .patch(
                &format!("/api/resource-servers/{rs}"),
                &token,
                &json!({"data": {"type": "resource_server", "id": rs, "attributes": attributes}}),
            )
            .await;
        let error = expect_error(response, 422, code).await;
        assert_eq!(error["source"]["pointer"], pointer);
    }
    let fetched = jsonapi(
        app.get(&format!("/api/resource-servers/{rs}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"], server, "nothing changed");
    assert_eq!(events(&app), ["resource_server.created"]);
}

async fn lists_page_and_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for n in 0..3 {
        create_server(
            &app,
            &token,
            json!({"name": format!("API {n}"), "identifier": format!("urn:api:{n}")}),
        )
        .await;
    }
    let first = jsonapi(app.get("/api/resource-servers?page[size]=2", &token).await).await;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let next = first["links"]["next"].as_str().unwrap().to_owned();
    let second = jsonapi(app.get(next.strip_prefix(&app.base).unwrap(), &token).await).await;
    assert_eq!(second["data"].as_array().unwrap().len(), 2);
    assert!(second["links"].get("next").is_none());
    let newest = jsonapi(
        app.get(
            "/api/resource-servers?sort=-created_at&page[size]=1",
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(newest["data"][0]["attributes"]["identifier"], "urn:api:2");

    let reader = app.token(Some("resource_servers:read")).await;
    let response = app
        .post(
            "/api/resource-servers",
            &reader,
            &json!({"data": {"type": "resource_server", "attributes": {"name": "A", "identifier": ORDERS}}}),
        )
        .await;
    expect_error(response, 403, "insufficient_scope").await;
    let rs = id(&newest["data"][0]);
    expect_error(
        app.delete(&format!("/api/resource-servers/{rs}"), &reader)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("resource_servers:write")).await;
    expect_error(
        app.get("/api/resource-servers", &writer).await,
        403,
        "insufficient_scope",
    )
    .await;
    let response = app
        .client
        .put(format!("{}/api/resource-servers/{rs}", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, PATCH, DELETE");
}

on_both_stores!(
    a_resource_server_goes_through_create_read_update_and_delete,
    the_identifier_is_unique_and_fixed,
    the_system_resource_server_is_forbidden_to_change,
    invalid_attributes_are_422_with_pointers,
    lists_page_and_scopes_gate_each_method,
);
