//! The audit trail and the event-type catalog end to end: listing in order
//! with filters and pages, single events, scopes; and every event a broad
//! scenario emits, validated against the JSON Schema the catalog publishes
//! for its type (by an independent validator, the `jsonschema` crate).

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use crate::invitations::{answer, invited};
use crate::on_both_stores;
use crate::organizations::{admit, create_organization};
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, jsonapi, spawn_app};

const GHOST: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

/// Every resource of a listing, following `links.next`.
async fn all_pages(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next = Some(format!("{}{path}", app.base));
    while let Some(url) = next {
        let response = app
            .client
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let page = jsonapi(response).await;
        items.extend(page["data"].as_array().unwrap().iter().cloned());
        next = page["links"]["next"].as_str().map(str::to_owned);
    }
    items
}

fn types_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["attributes"]["event_type"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_trail_lists_in_order_with_filters_and_pages(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(5);
    let user = id(&app.create_user(&token, "ada@example.com").await);
    let patched = app
        .patch(
            &format!("/api/users/{user}"),
            &token,
            &json!({"data": {"type": "user", "id": user, "attributes": {"first_name": "Ada"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let role = id(&app.create_role(&token, "admin").await);
    assert_eq!(
        app.delete(&format!("/api/roles/{role}"), &token)
            .await
            .status(),
        204
    );

    let all = all_pages(&app, &token, "/api/events?page[size]=1").await;
    // The environment's bootstrap, by the system, then this test's changes.
    let (bootstrap, events) = all.split_at(all.len() - 4);
    assert_eq!(
        types_of(bootstrap),
        [
            "signing_key.created",
            "resource_server.created",
            "client.created",
            "client_grant.created"
        ]
    );
    assert!(
        bootstrap
            .iter()
            .all(|e| e["attributes"]["actor"] == "system")
    );
    assert_eq!(
        types_of(events),
        [
            "user.created",
            "user.updated",
            "role.created",
            "role.deleted"
        ]
    );
    let first = &events[0];
    assert_eq!(first["type"], "event");
    assert_eq!(first["attributes"]["actor"], CLIENT_ID);
    assert_eq!(first["attributes"]["resource_type"], "user");
    assert_eq!(first["attributes"]["resource_id"], user.as_str());
    assert_eq!(first["attributes"]["data"]["id"], user.as_str());
    assert_eq!(
        first["attributes"]["data"]["attributes"]["email"],
        "ada@example.com"
    );
    assert_eq!(
        first["links"]["self"],
        format!("{}/api/events/{}", app.base, id(first))
    );

    let one = jsonapi(app.get(&format!("/api/events/{}", id(first)), &token).await).await;
    assert_eq!(one["data"]["attributes"], first["attributes"]);
    expect_error(
        app.get(&format!("/api/events/{GHOST}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(app.get("/api/events/x", &token).await, 404, "not_found").await;

    let get = |query: String| {
        let (app, token) = (&app, &token);
        async move { types_of(&all_pages(app, token, &format!("/api/events{query}")).await) }
    };
    assert_eq!(
        get("?filter[type]=user.updated".into()).await,
        ["user.updated"]
    );
    assert_eq!(
        get(format!("?filter[resource_id]={user}")).await,
        ["user.created", "user.updated"]
    );
    assert_eq!(
        get("?sort=-occurred_at&page[size]=3".into()).await[..4],
        [
            "role.deleted",
            "role.created",
            "user.updated",
            "user.created"
        ]
    );
    let since = |at: time::OffsetDateTime| {
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
            .replace('+', "%2B")
    };
    assert_eq!(
        get(format!("?filter[since]={}", since(before))).await.len(),
        all.len()
    );
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(1);
    assert!(
        get(format!("?filter[since]={}", since(later)))
            .await
            .is_empty()
    );
    for (query, parameter) in [
        ("?filter[type]=user.exploded", "filter[type]"),
        ("?filter[since]=yesterday", "filter[since]"),
        ("?filter[actor]=x", "filter[actor]"),
        ("?sort=event_type", "sort"),
    ] {
        let response = app.get(&format!("/api/events{query}"), &token).await;
        assert_eq!(response.status(), 400, "{query}");
        let body = jsonapi(response).await;
        assert_eq!(
            body["errors"][0]["source"]["parameter"], parameter,
            "{query}"
        );
    }

    // events:read only.
    let users = app.token(Some("users:read")).await;
    for path in ["/api/events", "/api/event-types"] {
        expect_error(app.get(path, &users).await, 403, "insufficient_scope").await;
    }
    let reader = app.token(Some("events:read")).await;
    assert_eq!(app.get("/api/events", &reader).await.status(), 200);
    let posted = app.post("/api/events", &token, &json!({})).await;
    assert_eq!(posted.status(), 405);
}

async fn the_catalog_lists_every_type_with_its_schema(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let types = all_pages(&app, &token, "/api/event-types?page[size]=7").await;
    let names: Vec<&str> = types.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert!(names.len() >= 45, "{names:?}");
    assert_eq!(names[0], "user.created");
    assert_eq!(
        names.iter().collect::<BTreeSet<_>>().len(),
        names.len(),
        "no name twice across pages"
    );
    let accepted = jsonapi(
        app.get("/api/event-types/invitation.accepted", &token)
            .await,
    )
    .await;
    let attributes = &accepted["data"]["attributes"];
    assert_eq!(accepted["data"]["type"], "event_type");
    assert_eq!(attributes["resource_type"], "invitation");
    assert!(attributes["description"].as_str().unwrap().len() > 10);
    assert_eq!(
        attributes["schema"]["properties"]["type"]["const"],
        "invitation"
    );
    expect_error(
        app.get("/api/event-types/invitation.exploded", &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let response = app.get("/api/event-types?page[after]=bogus", &token).await;
    assert_eq!(response.status(), 400);
}

/// Runs a scenario that touches every collection, then checks each event of
/// the trail against its type's published schema.
async fn every_event_matches_its_published_schema(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let ok = |expected: u16| {
        move |response: reqwest::Response| async move {
            assert_eq!(response.status().as_u16(), expected, "{}", response.url());
            if expected == 204 {
                Value::Null
            } else {
                jsonapi(response).await["data"].clone()
            }
        }
    };
    let patch = |path: String, kind: &'static str, attributes: Value| {
        let (app, token) = (&app, &token);
        async move {
            let id = path.rsplit('/').next().unwrap().to_owned();
            app.patch(
                &path,
                token,
                &json!({"data": {"type": kind, "id": id, "attributes": attributes}}),
            )
            .await
        }
    };
    let action = |path: String| {
        let (app, token) = (&app, &token);
        async move {
            app.client
                .patch(format!("{}{path}", app.base))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };

    // Users, permissions, roles and their joins.
    let user = id(&app.create_user(&token, "ada@example.com").await);
    ok(200)(
        patch(
            format!("/api/users/{user}"),
            "user",
            json!({"first_name": "Ada"}),
        )
        .await,
    )
    .await;
    let permission = id(&app.create_permission(&token, "read:reports").await);
    ok(200)(
        patch(
            format!("/api/permissions/{permission}"),
            "permission",
            json!({"description": "Reports"}),
        )
        .await,
    )
    .await;
    let role = id(&app.create_role(&token, "analyst").await);
    ok(200)(
        patch(
            format!("/api/roles/{role}"),
            "role",
            json!({"description": "x"}),
        )
        .await,
    )
    .await;
    let grant = id(&ok(201)(app.grant(&token, &role, &permission).await).await);
    let assignment = id(&ok(201)(app.assign(&token, &user, &role).await).await);
    ok(204)(
        app.delete(&format!("/api/role-permissions/{grant}"), &token)
            .await,
    )
    .await;
    ok(204)(
        app.delete(&format!("/api/user-roles/{assignment}"), &token)
            .await,
    )
    .await;

    // Sessions, then blocking the user revokes the open one.
    let session = json!({"data": {"type": "session", "attributes": {"ip_address": "203.0.113.9"},
        "relationships": {"user": {"data": {"type": "user", "id": user}}}}});
    let first = id(&ok(201)(app.post("/api/sessions", &token, &session).await).await);
    ok(200)(action(format!("/api/sessions/{first}/touch")).await).await;
    ok(200)(action(format!("/api/sessions/{first}/revoke")).await).await;
    ok(204)(app.delete(&format!("/api/sessions/{first}"), &token).await).await;
    ok(201)(app.post("/api/sessions", &token, &session).await).await;
    ok(200)(
        patch(
            format!("/api/users/{user}"),
            "user",
            json!({"blocked": true}),
        )
        .await,
    )
    .await;

    // APIs, scopes, clients and grants.
    let server = id(&ok(201)(
        app.post(
            "/api/resource-servers",
            &token,
            &json!({"data": {"type": "resource_server", "attributes": {
                "name": "Orders", "identifier": "https://orders.example.com/api"}}}),
        )
        .await,
    )
    .await);
    ok(200)(
        patch(
            format!("/api/resource-servers/{server}"),
            "resource_server",
            json!({"token_lifetime": 600}),
        )
        .await,
    )
    .await;
    let scope_document = |name: &str| {
        json!({"data": {"type": "scope", "attributes": {"name": name, "description": "d"},
            "relationships": {"resource_server": {"data": {"type": "resource_server", "id": server}}}}})
    };
    let read = id(&ok(201)(
        app.post("/api/scopes", &token, &scope_document("orders:read"))
            .await,
    )
    .await);
    let write = id(&ok(201)(
        app.post("/api/scopes", &token, &scope_document("orders:write"))
            .await,
    )
    .await);
    let client = ok(201)(
        app.post(
            "/api/clients",
            &token,
            &json!({"data": {"type": "client", "attributes": {"name": "Billing",
                "client_type": "confidential", "grant_types": ["client_credentials"]}}}),
        )
        .await,
    )
    .await;
    let client = id(&client);
    ok(200)(
        patch(
            format!("/api/clients/{client}"),
            "client",
            json!({"first_party": true}),
        )
        .await,
    )
    .await;
    ok(200)(action(format!("/api/clients/{client}/rotate_secret")).await).await;
    let client_grant = id(&ok(201)(
        app.post(
            "/api/client-grants",
            &token,
            &json!({"data": {"type": "client_grant",
                "attributes": {"allowed_scopes": ["orders:read", "orders:write"]},
                "relationships": {
                    "client": {"data": {"type": "client", "id": client}},
                    "resource_server": {"data": {"type": "resource_server", "id": server}}}}}),
        )
        .await,
    )
    .await);
    ok(200)(
        patch(
            format!("/api/scopes/{read}"),
            "scope",
            json!({"name": "orders:list"}),
        )
        .await,
    )
    .await;
    ok(204)(app.delete(&format!("/api/scopes/{write}"), &token).await).await;
    ok(200)(
        patch(
            format!("/api/client-grants/{client_grant}"),
            "client_grant",
            json!({"allowed_scopes": []}),
        )
        .await,
    )
    .await;
    ok(204)(
        app.delete(&format!("/api/client-grants/{client_grant}"), &token)
            .await,
    )
    .await;
    ok(204)(
        app.delete(&format!("/api/resource-servers/{server}"), &token)
            .await,
    )
    .await;
    ok(204)(app.delete(&format!("/api/clients/{client}"), &token).await).await;

    // Signing keys: a new primary, deactivated (the old one is primary
    // again), then deleted.
    let generated = app
        .client
        .post(format!("{}/api/signing-keys", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let key = id(&ok(201)(generated).await);
    ok(200)(action(format!("/api/signing-keys/{key}/deactivate")).await).await;
    ok(204)(
        app.delete(&format!("/api/signing-keys/{key}"), &token)
            .await,
    )
    .await;

    // Connections.
    let connection = id(&ok(201)(
        app.post(
            "/api/connections",
            &token,
            &json!({"data": {"type": "connection", "attributes": {"strategy": "github",
                "display_name": "GitHub", "client_id": "gh", "client_secret": "shh-secret"}}}),
        )
        .await,
    )
    .await);
    ok(200)(
        patch(
            format!("/api/connections/{connection}"),
            "connection",
            json!({"enforce_sso": true}),
        )
        .await,
    )
    .await;
    ok(204)(
        app.delete(&format!("/api/connections/{connection}"), &token)
            .await,
    )
    .await;

    // Organizations, memberships and invitations.
    let org = id(&create_organization(&app, &token, "Acme").await);
    ok(200)(
        patch(
            format!("/api/organizations/{org}"),
            "organization",
            json!({"metadata": {"tier": "gold"}}),
        )
        .await,
    )
    .await;
    let bob = id(&app.create_user(&token, "bob@example.com").await);
    let membership = id(&ok(201)(admit(&app, &token, &bob, &org, &[&role]).await).await);
    let roles = json!({"data": {"type": "membership", "id": membership,
        "relationships": {"roles": {"data": []}}}});
    ok(200)(
        app.patch(&format!("/api/memberships/{membership}"), &token, &roles)
            .await,
    )
    .await;
    ok(204)(
        app.delete(&format!("/api/memberships/{membership}"), &token)
            .await,
    )
    .await;
    let (revoked, _) = invited(&app, &token, &org, "cy@example.com", &[&role]).await;
    ok(200)(action(format!("/api/invitations/{}/revoke", id(&revoked))).await).await;
    ok(204)(
        app.delete(&format!("/api/invitations/{}", id(&revoked)), &token)
            .await,
    )
    .await;
    let (accepted, secret) = invited(&app, &token, &org, "dee@example.com", &[&role]).await;
    ok(200)(answer(&app, &id(&accepted), "accept", &json!({"token": secret})).await).await;
    let (declined, secret) = invited(&app, &token, &org, "eve@example.com", &[]).await;
    ok(200)(answer(&app, &id(&declined), "decline", &json!({"token": secret})).await).await;
    ok(204)(
        app.delete(&format!("/api/organizations/{org}"), &token)
            .await,
    )
    .await;
    ok(204)(app.delete(&format!("/api/roles/{role}"), &token).await).await;
    ok(204)(
        app.delete(&format!("/api/permissions/{permission}"), &token)
            .await,
    )
    .await;
    ok(204)(app.delete(&format!("/api/users/{user}"), &token).await).await;

    // A webhook (never delivered: it listens to an event that no longer comes).
    let webhook = id(&ok(201)(
        app.post(
            "/api/webhooks",
            &token,
            &json!({"data": {"type": "webhook", "attributes": {"name": "sync",
                "url": "https://hooks.example.com/portcullis", "events": ["organization.created"]}}}),
        )
        .await,
    )
    .await);
    ok(200)(
        patch(
            format!("/api/webhooks/{webhook}"),
            "webhook",
            json!({"active": false}),
        )
        .await,
    )
    .await;
    ok(200)(action(format!("/api/webhooks/{webhook}/rotate_secret")).await).await;
    ok(204)(
        app.delete(&format!("/api/webhooks/{webhook}"), &token)
            .await,
    )
    .await;

    // A JavaScript action.
    let action = id(&ok(201)(
        app.post(
            "/api/actions",
            &token,
            &json!({"data": {"type": "action", "attributes": {"name": "tag", "trigger": "post_login",
                "code": "export default async function(event) { return { claims: event.claims }; }"}}}),
        )
        .await,
    )
    .await);
    ok(200)(
        patch(
            format!("/api/actions/{action}"),
            "action",
            json!({"enabled": false}),
        )
        .await,
    )
    .await;
    ok(204)(app.delete(&format!("/api/actions/{action}"), &token).await).await;

    // An opaque token revoked by its client (the bootstrap client, switched).
    let clients = all_pages(&app, &token, "/api/clients").await;
    let bootstrap = clients
        .iter()
        .find(|c| c["attributes"]["client_id"] == CLIENT_ID)
        .map(id)
        .unwrap();
    ok(200)(
        patch(
            format!("/api/clients/{bootstrap}"),
            "client",
            json!({"token_format": "opaque"}),
        )
        .await,
    )
    .await;
    let opaque = app.token(None).await;
    let revoked = app
        .client
        .post(format!("{}/oauth/revoke", app.base))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", opaque.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);

    // The catalog's schemas, from the API itself.
    let mut validators = HashMap::new();
    for event_type in all_pages(&app, &token, "/api/event-types?page[size]=500").await {
        let schema = &event_type["attributes"]["schema"];
        let validator = jsonschema::validator_for(schema)
            .unwrap_or_else(|e| panic!("{}: invalid schema: {e}", event_type["id"]));
        validators.insert(
            id(&event_type),
            (validator, event_type["attributes"]["resource_type"].clone()),
        );
    }
    let events = all_pages(&app, &token, "/api/events?page[size]=100").await;
    let mut seen = BTreeSet::new();
    for event in &events {
        let attributes = &event["attributes"];
        let name = attributes["event_type"].as_str().unwrap();
        let (validator, resource_type) = validators
            .get(name)
            .unwrap_or_else(|| panic!("{name} is emitted but not in the catalog"));
        assert_eq!(&attributes["resource_type"], resource_type, "{name}");
        let errors: Vec<String> = validator
            .iter_errors(&attributes["data"])
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{name}: {errors:?}\n{}",
            attributes["data"]
        );
        seen.insert(name.to_owned());
    }
    let unseen: Vec<&String> = validators.keys().filter(|k| !seen.contains(*k)).collect();
    assert!(
        unseen.is_empty(),
        "the scenario emits every catalogued event; missing: {unseen:?}"
    );
}

on_both_stores!(
    the_trail_lists_in_order_with_filters_and_pages,
    the_catalog_lists_every_type_with_its_schema,
    every_event_matches_its_published_schema,
);
