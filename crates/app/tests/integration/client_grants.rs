//! The client-grants collection end to end: a grant made through the API
//! is what the token endpoint issues, and narrowing or deleting it takes
//! effect at once; the relationships, the scope checks with their pointers,
//! the one grant per pair, other environments, the Management API grants
//! (and the caller's own, which it cannot narrow or delete), scope gating
//! and the audit events.

use portcullis_application::environments::BootstrapCredentials;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::resource_servers::create_server;
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, jsonapi, spawn_app};

const ORDERS: &str = "https://orders.example.com/api";
const GHOST: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn grant_document(client: &str, server: &str, scopes: Option<Value>) -> Value {
    let mut document = json!({"data": {"type": "client_grant", "relationships": {
        "client": {"data": {"type": "client", "id": client}},
        "resource_server": {"data": {"type": "resource_server", "id": server}}}}});
    if let Some(scopes) = scopes {
        document["data"]["attributes"] = json!({ "allowed_scopes": scopes });
    }
    document
}

fn patch_document(grant: &str, attributes: Value) -> Value {
    json!({"data": {"type": "client_grant", "id": grant, "attributes": attributes}})
}

async fn create_grant(
    app: &TestApp,
    token: &str,
    client: &str,
    server: &str,
    scopes: Value,
) -> Value {
    let response = app
        .post(
            "/api/client-grants",
            token,
            &grant_document(client, server, Some(scopes)),
        )
        .await;
    assert_eq!(response.status(), 201, "create grant");
    jsonapi(response).await["data"].clone()
}

/// A resource server `Orders` with scopes `orders:read`, `orders:write` and
/// `orders:delete`, made through the API; returns its id.
async fn orders(app: &TestApp, token: &str) -> String {
    let rs = id(&create_server(app, token, json!({"name": "Orders", "identifier": ORDERS})).await);
    for name in ["orders:read", "orders:write", "orders:delete"] {
        let response = app
            .post(
                "/api/scopes",
                token,
                &json!({"data": {"type": "scope", "attributes": {"name": name},
                    "relationships": {"resource_server": {"data": {"type": "resource_server", "id": rs}}}}}),
            )
            .await;
        assert_eq!(response.status(), 201, "create scope {name}");
    }
    rs
}

/// A new confidential machine client made through the API: (record id,
/// `client_id`, secret).
async fn machine(app: &TestApp, token: &str, name: &str) -> (String, String, String) {
    machine_issuing(app, token, name, "jwt").await
}

/// [`machine`] with the given `token_format`.
async fn machine_issuing(
    app: &TestApp,
    token: &str,
    name: &str,
    token_format: &str,
) -> (String, String, String) {
    let response = app
        .post(
            "/api/clients",
            token,
            &json!({"data": {"type": "client", "attributes": {
                "name": name, "client_type": "confidential", "token_format": token_format}}}),
        )
        .await;
    assert_eq!(response.status(), 201, "create client");
    let client = jsonapi(response).await["data"].clone();
    let attributes = &client["attributes"];
    (
        id(&client),
        attributes["client_id"].as_str().unwrap().to_owned(),
        attributes["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A client-credentials token request for `client_id`: (status, body).
async fn token_for(
    app: &TestApp,
    client: &(String, String, String),
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut body = vec![("grant_type", "client_credentials")];
    body.extend_from_slice(form);
    let response = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(&client.1, Some(&client.2))
        .form(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The `client_grant` events after the one the environment's bootstrap wrote.
fn events(app: &TestApp) -> Vec<String> {
    let mut all = app.db.event_types("client_grant");
    assert_eq!(
        all.first().map(String::as_str),
        Some("client_grant.created"),
        "bootstrap"
    );
    all.remove(0);
    all
}

/// The record id of the bootstrap client.
async fn bootstrap_client(app: &TestApp, token: &str) -> String {
    let list = jsonapi(app.get("/api/clients?page[size]=500", token).await).await;
    id(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["attributes"]["client_id"] == CLIENT_ID)
        .unwrap())
}

/// The Management API's resource server id.
async fn management_api(app: &TestApp, token: &str) -> String {
    let list = jsonapi(app.get("/api/resource-servers?page[size]=500", token).await).await;
    id(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|rs| rs["attributes"]["system"] == true)
        .unwrap())
}

async fn a_grant_drives_the_token_endpoint_until_narrowed_and_deleted(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let billing = machine(&app, &token, "Billing job").await;
    let (status, body) = token_for(&app, &billing, &[("resource", ORDERS)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "no grant yet"
    );

    let response = app
        .post(
            "/api/client-grants",
            &token,
            &grant_document(
                &billing.0,
                &rs,
                Some(json!(["orders:write", "orders:read"])),
            ),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(response).await;
    let grant = &body["data"];
    let gid = id(grant);
    assert_eq!(location, format!("{}/api/client-grants/{gid}", app.base));
    assert_eq!(grant["type"], "client_grant");
    assert_eq!(
        grant["attributes"]["allowed_scopes"],
        json!(["orders:write", "orders:read"])
    );
    assert!(
        grant["attributes"]["created_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(
        grant["relationships"]["client"]["data"],
        json!({"type": "client", "id": billing.0})
    );
    assert_eq!(
        grant["relationships"]["resource_server"]["data"],
        json!({"type": "resource_server", "id": rs})
    );
    let fetched = jsonapi(app.get(&format!("/api/client-grants/{gid}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);

    // The token endpoint issues exactly the granted scopes (and remembers them).
    let (status, issued) = token_for(&app, &billing, &[("resource", ORDERS)]).await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["scope"], "orders:write orders:read");
    let (status, _) = token_for(
        &app,
        &billing,
        &[("resource", ORDERS), ("scope", "orders:write")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = token_for(
        &app,
        &billing,
        &[("resource", ORDERS), ("scope", "orders:delete")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );

    // Narrowed: the removed scope is refused at once.
    let narrowed = app
        .patch(
            &format!("/api/client-grants/{gid}"),
            &token,
            &patch_document(&gid, json!({"allowed_scopes": ["orders:read"]})),
        )
        .await;
    assert_eq!(narrowed.status(), 200);
    let narrowed = jsonapi(narrowed).await;
    assert_eq!(
        narrowed["data"]["attributes"]["allowed_scopes"],
        json!(["orders:read"])
    );
    let (status, body) = token_for(
        &app,
        &billing,
        &[("resource", ORDERS), ("scope", "orders:write")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "seen at once"
    );
    let (status, issued) = token_for(&app, &billing, &[("resource", ORDERS)]).await;
    assert_eq!(
        (status, issued["scope"].as_str()),
        (200, Some("orders:read"))
    );

    // No scopes at all: still a grant, tokens carry none.
    let emptied = app
        .patch(
            &format!("/api/client-grants/{gid}"),
            &token,
            &patch_document(&gid, json!({"allowed_scopes": []})),
        )
        .await;
    assert_eq!(emptied.status(), 200);
    let (status, issued) = token_for(&app, &billing, &[("resource", ORDERS)]).await;
    assert_eq!(status, 200, "{issued}");
    assert!(
        issued["scope"].as_str().unwrap_or("").is_empty(),
        "{issued}"
    );

    // Deleted: the resource server is no longer a target for this client.
    assert_eq!(
        app.delete(&format!("/api/client-grants/{gid}"), &token)
            .await
            .status(),
        204
    );
    let (status, body) = token_for(&app, &billing, &[("resource", ORDERS)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "seen at once"
    );
    expect_error(
        app.get(&format!("/api/client-grants/{gid}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/client-grants/{gid}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;

    assert_eq!(
        events(&app),
        [
            "client_grant.created",
            "client_grant.updated",
            "client_grant.updated",
            "client_grant.deleted"
        ]
    );
}

async fn bad_grants_are_refused_precisely_and_change_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let api = management_api(&app, &token).await;
    let billing = machine(&app, &token, "Billing job").await;

    // Scopes: each entry must be a scope of that resource server, once.
    let response = app
        .post(
            "/api/client-grants",
            &token,
            &grant_document(
                &billing.0,
                &rs,
                Some(json!(["orders:read", "users:read", "orders:read"])),
            ),
        )
        .await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let errors: Vec<_> = body["errors"]
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
            ("unknown_scope", "/data/attributes/allowed_scopes/1"),
            ("duplicate_scope", "/data/attributes/allowed_scopes/2"),
        ]
    );
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(&billing.0, &rs, Some(json!(["orders:read", 7]))),
        )
        .await,
        422,
        "invalid_type",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/allowed_scopes/1"
    );

    // Relationships: required, and of this environment.
    let mut missing = grant_document(&billing.0, &rs, None);
    missing["data"]["relationships"]
        .as_object_mut()
        .unwrap()
        .remove("client");
    let error = expect_error(
        app.post("/api/client-grants", &token, &missing).await,
        422,
        "relationship_required",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/client");
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(GHOST, &rs, None),
        )
        .await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/client/data"
    );
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(&billing.0, "nope", None),
        )
        .await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/resource_server/data"
    );
    let mut unknown = grant_document(&billing.0, &rs, None);
    unknown["data"]["attributes"] = json!({"scopes": []});
    expect_error(
        app.post("/api/client-grants", &token, &unknown).await,
        400,
        "unknown_attribute",
    )
    .await;

    // Another environment's resource server, client and grant are unknown here.
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
    let (foreign_client, foreign_server, foreign_grant) = app
        .store
        .read(|tx| {
            let env = tx
                .find_environment_by_slug("staging")?
                .ok_or(StoreError::NotFound)?;
            let client = tx
                .find_client_by_client_id(env.id, "staging-client")?
                .ok_or(StoreError::NotFound)?;
            let server = tx
                .find_system_resource_server(env.id)?
                .ok_or(StoreError::NotFound)?;
            let grant = tx
                .find_client_grant(env.id, client.id, server.id)?
                .ok_or(StoreError::NotFound)?;
            Ok::<_, StoreError>((
                client.id.to_string(),
                server.id.to_string(),
                grant.id.to_string(),
            ))
        })
        .await
        .unwrap();
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(&billing.0, &foreign_server, None),
        )
        .await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/resource_server/data"
    );
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(&foreign_client, &api, None),
        )
        .await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/client/data"
    );
    let path = format!("/api/client-grants/{foreign_grant}");
    expect_error(app.get(&path, &token).await, 404, "not_found").await;
    expect_error(
        app.patch(
            &path,
            &token,
            &patch_document(&foreign_grant, json!({"allowed_scopes": []})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(app.delete(&path, &token).await, 404, "not_found").await;
    assert_eq!(
        events(&app),
        ["client_grant.created"],
        "staging's bootstrap grant only: nothing written"
    );

    // One grant per pair.
    let gid = id(&create_grant(&app, &token, &billing.0, &rs, json!(["orders:read"])).await);
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &token,
            &grant_document(&billing.0, &rs, None),
        )
        .await,
        409,
        "duplicate",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships");

    // Updates: the ends are fixed (naming the same ones is fine), scopes checked.
    let path = format!("/api/client-grants/{gid}");
    let mut moved = grant_document(&billing.0, &api, None);
    moved["data"]["id"] = json!(gid);
    let error = expect_error(
        app.patch(&path, &token, &moved).await,
        422,
        "resource_server_immutable",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/resource_server/data"
    );
    let other = machine(&app, &token, "Other").await;
    let mut moved = grant_document(&other.0, &rs, None);
    moved["data"]["id"] = json!(gid);
    let error = expect_error(
        app.patch(&path, &token, &moved).await,
        422,
        "client_immutable",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/client/data"
    );
    let error = expect_error(
        app.patch(
            &path,
            &token,
            &patch_document(
                &gid,
                json!({"allowed_scopes": ["orders:read", "orders:fly"]}),
            ),
        )
        .await,
        422,
        "unknown_scope",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/allowed_scopes/1"
    );
    let fetched = jsonapi(app.get(&path, &token).await).await;
    assert_eq!(
        fetched["data"]["attributes"]["allowed_scopes"],
        json!(["orders:read"]),
        "unchanged"
    );
    let mut same = grant_document(
        &billing.0,
        &rs,
        Some(json!(["orders:read", "orders:delete"])),
    );
    same["data"]["id"] = json!(gid);
    let response = app.patch(&path, &token, &same).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        jsonapi(response).await["data"]["attributes"]["allowed_scopes"],
        json!(["orders:read", "orders:delete"])
    );
    expect_error(
        app.patch(
            &path,
            &token,
            &json!({"data": {"type": "client_grant", "id": GHOST, "attributes": {}}}),
        )
        .await,
        409,
        "id_mismatch",
    )
    .await;
    assert_eq!(
        events(&app),
        [
            "client_grant.created",
            "client_grant.created",
            "client_grant.updated"
        ]
    );
}

async fn listings_filter_by_client_and_resource_server_in_pages(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let rs = orders(&app, &token).await;
    let api = management_api(&app, &token).await;
    let me = bootstrap_client(&app, &token).await;
    let (a, b) = (
        machine(&app, &token, "A").await,
        machine(&app, &token, "B").await,
    );
    let g1 = create_grant(&app, &token, &a.0, &rs, json!(["orders:read"])).await;
    let g2 = create_grant(&app, &token, &a.0, &api, json!(["users:read"])).await;
    let g3 = create_grant(&app, &token, &b.0, &rs, json!([])).await;

    let list = |query: String| {
        let (app, token) = (&app, &token);
        async move {
            let body = jsonapi(app.get(&format!("/api/client-grants{query}"), token).await).await;
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(id)
                .collect::<Vec<_>>()
        }
    };
    let all = list(String::new()).await;
    assert_eq!(all.len(), 4, "with the bootstrap client's own");
    assert_eq!(&all[1..], [id(&g1), id(&g2), id(&g3)]);
    assert_eq!(
        list(format!("?filter[client]={}", a.0)).await,
        [id(&g1), id(&g2)]
    );
    assert_eq!(
        list(format!("?filter[resource_server]={rs}")).await,
        [id(&g1), id(&g3)]
    );
    assert_eq!(
        list(format!(
            "?filter[client]={}&filter[resource_server]={rs}",
            b.0
        ))
        .await,
        [id(&g3)]
    );
    assert_eq!(
        list(format!("?filter[client]={me}")).await,
        [all[0].clone()]
    );
    assert_eq!(
        list("?sort=-created_at&page[size]=2".into()).await,
        [id(&g3), id(&g2)]
    );

    let page = jsonapi(app.get("/api/client-grants?page[size]=2", &token).await).await;
    let next = page["links"]["next"].as_str().unwrap();
    let next = app
        .client
        .get(next)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let next = jsonapi(next).await;
    let ids: Vec<_> = next["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [id(&g2), id(&g3)]);
    assert!(next["links"].get("next").is_none());
    expect_error(
        app.get("/api/client-grants?filter[client]=nope", &token)
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
    expect_error(
        app.get("/api/client-grants?filter[color]=red", &token)
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
}

async fn management_api_grants_give_access_but_not_a_self_lockout(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let api = management_api(&app, &token).await;
    let me = bootstrap_client(&app, &token).await;

    // A new machine gets Management API access through a grant.
    let ops = machine(&app, &token, "Ops").await;
    let (status, _) = token_for(&app, &ops, &[]).await;
    assert_eq!(status, 400, "no Management API grant yet");
    let gid = id(&create_grant(&app, &token, &ops.0, &api, json!(["users:read"])).await);
    let (status, issued) = token_for(&app, &ops, &[]).await;
    assert_eq!(
        (status, issued["scope"].as_str()),
        (200, Some("users:read"))
    );
    let ops_token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/users", &ops_token).await.status(), 200);
    expect_error(
        app.get("/api/client-grants", &ops_token).await,
        403,
        "insufficient_scope",
    )
    .await;
    // Another client's Management API grant can be deleted.
    assert_eq!(
        app.delete(&format!("/api/client-grants/{gid}"), &token)
            .await
            .status(),
        204
    );
    let (status, _) = token_for(&app, &ops, &[]).await;
    assert_eq!(status, 400, "seen at once");

    // The caller's own Management API grant: no narrowing, no deletion.
    let body = jsonapi(
        app.get(
            &format!("/api/client-grants?filter[client]={me}&filter[resource_server]={api}"),
            &token,
        )
        .await,
    )
    .await;
    let own = body["data"][0].clone();
    let own_id = id(&own);
    let path = format!("/api/client-grants/{own_id}");
    let all_scopes = own["attributes"]["allowed_scopes"].clone();
    assert_eq!(
        all_scopes.as_array().unwrap().len(),
        portcullis_domain::oauth::management_api_scopes().len()
    );
    let error = expect_error(
        app.patch(
            &path,
            &token,
            &patch_document(&own_id, json!({"allowed_scopes": ["users:read"]})),
        )
        .await,
        409,
        "self_lockout",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/allowed_scopes"
    );
    expect_error(app.delete(&path, &token).await, 409, "self_lockout").await;
    let mut reversed = all_scopes.as_array().unwrap().clone();
    reversed.reverse();
    let response = app
        .patch(
            &path,
            &token,
            &patch_document(&own_id, json!({"allowed_scopes": reversed})),
        )
        .await;
    assert_eq!(response.status(), 200, "the same scopes in another order");
    assert_eq!(
        app.get("/api/client-grants", &token).await.status(),
        200,
        "still in"
    );
    assert_eq!(
        events(&app),
        [
            "client_grant.created",
            "client_grant.deleted",
            "client_grant.updated"
        ]
    );
}

/// The review's escalation: a client holding only `clients:read
/// clients:write` could widen its own Management API grant, or hand any
/// Management API scope to a client it created.
async fn nobody_grants_a_management_api_scope_it_does_not_hold(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let api = management_api(&app, &admin).await;
    let rs = orders(&app, &admin).await;
    let (ops, own, ops_token) = granted_machine(
        &app,
        &admin,
        (&api, json!(["clients:read", "clients:write"])),
        "Ops",
        "jwt",
    )
    .await;
    let before = app.db.event_types("client_grant").len();

    // Widening its own grant: refused at the first scope it lacks.
    let error = expect_error(
        app.patch(
            &format!("/api/client-grants/{own}"),
            &ops_token,
            &patch_document(
                &own,
                json!({"allowed_scopes": ["clients:read", "clients:write", "users:delete", "signing_keys:delete"]}),
            ),
        )
        .await,
        403,
        "scope_not_held",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/allowed_scopes/2"
    );
    assert!(
        error["detail"].as_str().unwrap().contains("`users:delete`"),
        "{error}"
    );
    let (status, issued) = token_for(&app, &ops, &[]).await;
    assert_eq!(
        (status, issued["scope"].as_str()),
        (200, Some("clients:read clients:write")),
        "the next token carries nothing new"
    );

    // Giving a new client what it lacks itself: refused; what it holds: fine.
    let sub = machine(&app, &ops_token, "Sub").await;
    let error = expect_error(
        app.post(
            "/api/client-grants",
            &ops_token,
            &grant_document(&sub.0, &api, Some(json!(["clients:read", "users:delete"]))),
        )
        .await,
        403,
        "scope_not_held",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/attributes/allowed_scopes/1"
    );
    let (status, _) = token_for(&app, &sub, &[]).await;
    assert_eq!(status, 400, "no grant was created");
    assert_eq!(app.db.event_types("client_grant").len(), before);
    create_grant(&app, &ops_token, &sub.0, &api, json!(["clients:read"])).await;
    // Scopes of other resource servers are not the caller's powers.
    create_grant(&app, &ops_token, &sub.0, &rs, json!(["orders:delete"])).await;
}

/// A client's access token for its default audience.
async fn access_token(app: &TestApp, client: &(String, String, String)) -> String {
    let (status, issued) = token_for(app, client, &[]).await;
    assert_eq!(status, 200, "{issued}");
    issued["access_token"].as_str().unwrap().to_owned()
}

/// A new machine client issuing `token_format` tokens, granted `scopes` on
/// `server`: the client, the grant's id and a token.
async fn granted_machine(
    app: &TestApp,
    admin: &str,
    (server, scopes): (&str, Value),
    name: &str,
    token_format: &str,
) -> ((String, String, String), String, String) {
    let client = machine_issuing(app, admin, name, token_format).await;
    let grant = id(&create_grant(app, admin, &client.0, server, scopes).await);
    let token = access_token(app, &client).await;
    (client, grant, token)
}

/// RFC 7662 introspection of `token` by the bootstrap client.
async fn introspect(app: &TestApp, token: &str) -> Value {
    let response = app
        .client
        .post(format!("{}/oauth/introspect", app.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A live token, JWT or opaque, reaches no further than its client's
/// current grant: narrowing the grant removes scopes from it at once (403,
/// and introspection says so), deleting the grant or the client ends it
/// (401, inactive).
async fn live_tokens_follow_their_client_and_grant(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let api = management_api(&app, &admin).await;
    for format in ["jwt", "opaque"] {
        let (ops, gid, live) = granted_machine(
            &app,
            &admin,
            (&api, json!(["users:read", "clients:read"])),
            &format!("Ops {format}"),
            format,
        )
        .await;
        assert_eq!(app.get("/api/users", &live).await.status(), 200, "{format}");
        assert_eq!(
            introspect(&app, &live).await["scope"],
            "users:read clients:read"
        );

        let narrowed = app
            .patch(
                &format!("/api/client-grants/{gid}"),
                &admin,
                &patch_document(&gid, json!({"allowed_scopes": ["clients:read"]})),
            )
            .await;
        assert_eq!(narrowed.status(), 200);
        expect_error(
            app.get("/api/users", &live).await,
            403,
            "insufficient_scope",
        )
        .await;
        assert_eq!(
            app.get("/api/clients", &live).await.status(),
            200,
            "{format}"
        );
        let seen = introspect(&app, &live).await;
        assert_eq!(
            (seen["active"].clone(), seen["scope"].clone()),
            (json!(true), json!("clients:read"))
        );

        let deleted = app
            .delete(&format!("/api/client-grants/{gid}"), &admin)
            .await;
        assert_eq!(deleted.status(), 204);
        expect_error(app.get("/api/clients", &live).await, 401, "invalid_token").await;
        assert_eq!(
            introspect(&app, &live).await,
            json!({"active": false}),
            "{format}"
        );

        // A token of a deleted client dies with it.
        create_grant(&app, &admin, &ops.0, &api, json!(["clients:read"])).await;
        let again = access_token(&app, &ops).await;
        assert_eq!(app.get("/api/clients", &again).await.status(), 200);
        let gone = app.delete(&format!("/api/clients/{}", ops.0), &admin).await;
        assert_eq!(gone.status(), 204);
        expect_error(app.get("/api/clients", &again).await, 401, "invalid_token").await;
        assert_eq!(
            introspect(&app, &again).await,
            json!({"active": false}),
            "{format}"
        );
    }
}

async fn client_scopes_gate_each_method(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let rs = orders(&app, &admin).await;
    let billing = machine(&app, &admin, "Billing job").await;
    let others = app
        .token(Some(
            "resource_servers:read resource_servers:write resource_servers:delete",
        ))
        .await;
    expect_error(
        app.get("/api/client-grants", &others).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.post(
            "/api/client-grants",
            &others,
            &grant_document(&billing.0, &rs, None),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("clients:write")).await;
    let created = app
        .post(
            "/api/client-grants",
            &writer,
            &grant_document(&billing.0, &rs, None),
        )
        .await;
    assert_eq!(created.status(), 201);
    let gid = id(&jsonapi(created).await["data"]);
    let path = format!("/api/client-grants/{gid}");
    expect_error(app.get(&path, &writer).await, 403, "insufficient_scope").await;
    expect_error(app.delete(&path, &writer).await, 403, "insufficient_scope").await;
    let patched = app
        .patch(
            &path,
            &writer,
            &patch_document(&gid, json!({"allowed_scopes": ["orders:read"]})),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let reader = app.token(Some("clients:read")).await;
    assert_eq!(app.get(&path, &reader).await.status(), 200);
    expect_error(
        app.patch(
            &path,
            &reader,
            &patch_document(&gid, json!({"allowed_scopes": []})),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("clients:delete")).await;
    assert_eq!(app.delete(&path, &deleter).await.status(), 204);
    expect_error(app.get(&path, &admin).await, 404, "not_found").await;

    let wrong = app
        .client
        .delete(format!("{}/api/client-grants", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET, POST");
    let wrong = app
        .client
        .post(format!("{}{path}", app.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    assert_eq!(wrong.headers()["allow"], "GET, PATCH, DELETE");
    assert_eq!(
        events(&app),
        [
            "client_grant.created",
            "client_grant.updated",
            "client_grant.deleted"
        ]
    );
}

on_both_stores!(
    a_grant_drives_the_token_endpoint_until_narrowed_and_deleted,
    bad_grants_are_refused_precisely_and_change_nothing,
    listings_filter_by_client_and_resource_server_in_pages,
    management_api_grants_give_access_but_not_a_self_lockout,
    nobody_grants_a_management_api_scope_it_does_not_hold,
    live_tokens_follow_their_client_and_grant,
    client_scopes_gate_each_method,
);
