//! The memberships collection end to end: admission with roles, one
//! membership per user per organization, role linkage validated, role
//! replacement, filters, cascades (organization, user, role), events and
//! scopes.

use portcullis_application::environments::BootstrapCredentials;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::organizations::{admit, create_organization};
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

const GHOST: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

fn role_ids(membership: &Value) -> Vec<String> {
    membership["relationships"]["roles"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "role");
            id(r)
        })
        .collect()
}

async fn replace_roles(
    app: &TestApp,
    token: &str,
    membership: &str,
    roles: &[&str],
) -> reqwest::Response {
    let roles: Vec<Value> = roles
        .iter()
        .map(|r| json!({"type": "role", "id": r}))
        .collect();
    app.patch(
        &format!("/api/memberships/{membership}"),
        token,
        &json!({"data": {"type": "membership", "id": membership, "relationships": {
            "roles": {"data": roles}}}}),
    )
    .await
}

async fn a_membership_goes_through_create_read_list_update_and_delete(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "jane@example.com").await);
    let org = id(&create_organization(&app, &token, "Acme").await);
    let admin = id(&app.create_role(&token, "admin").await);
    let billing = id(&app.create_role(&token, "billing").await);

    let created = admit(&app, &token, &user, &org, &[&billing, &admin]).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let membership = &body["data"];
    let member = id(membership);
    assert_eq!(location, format!("{}/api/memberships/{member}", app.base));
    assert_eq!(membership["type"], "membership");
    assert_eq!(
        membership["relationships"]["user"]["data"],
        json!({"type": "user", "id": user})
    );
    assert_eq!(
        membership["relationships"]["organization"]["data"],
        json!({"type": "organization", "id": org})
    );
    assert_eq!(role_ids(membership), [billing.clone(), admin.clone()]);

    let fetched = jsonapi(app.get(&format!("/api/memberships/{member}"), &token).await).await;
    assert_eq!(fetched["data"], body["data"]);
    let listed = jsonapi(app.get("/api/memberships", &token).await).await;
    assert_eq!(listed["data"], json!([body["data"].clone()]));

    // One membership per user per organization, whatever the roles.
    let error = expect_error(
        admit(&app, &token, &user, &org, &[]).await,
        409,
        "duplicate",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships");

    let updated = replace_roles(&app, &token, &member, &[&admin]).await;
    assert_eq!(updated.status(), 200);
    let updated = jsonapi(updated).await;
    assert_eq!(role_ids(&updated["data"]), [admin.as_str()]);
    let fetched = jsonapi(app.get(&format!("/api/memberships/{member}"), &token).await).await;
    assert_eq!(role_ids(&fetched["data"]), [admin.as_str()]);
    let cleared = jsonapi(replace_roles(&app, &token, &member, &[]).await).await;
    assert!(role_ids(&cleared["data"]).is_empty());

    assert_eq!(
        app.delete(&format!("/api/memberships/{member}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/memberships/{member}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/memberships/{member}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        replace_roles(&app, &token, &member, &[]).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("membership"),
        [
            "membership.created",
            "membership.updated",
            "membership.updated",
            "membership.deleted"
        ],
        "the duplicate rolled back without an event"
    );
}

async fn unknown_ends_and_bad_role_lists_are_refused(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "jane@example.com").await);
    let org = id(&create_organization(&app, &token, "Acme").await);
    let admin = id(&app.create_role(&token, "admin").await);

    let error = expect_error(
        admit(&app, &token, GHOST, &org, &[]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/user/data");
    let error = expect_error(
        admit(&app, &token, &user, GHOST, &[]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/organization/data"
    );
    let error = expect_error(
        admit(&app, &token, &user, &org, &[&admin, GHOST]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/1"
    );
    let error = expect_error(
        admit(&app, &token, &user, &org, &["not-an-id"]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/0"
    );
    let error = expect_error(
        admit(&app, &token, &user, &org, &[&admin, &admin]).await,
        422,
        "duplicate_role",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/1"
    );

    let post = |document: Value| {
        let (app, token) = (&app, token.clone());
        async move { app.post("/api/memberships", &token, &document).await }
    };
    let missing = post(json!({"data": {"type": "membership", "relationships": {
        "user": {"data": {"type": "user", "id": user}}}}}))
    .await;
    let error = expect_error(missing, 422, "relationship_required").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/organization"
    );
    let wrong_type = post(json!({"data": {"type": "membership", "relationships": {
        "user": {"data": {"type": "user", "id": user}},
        "organization": {"data": {"type": "organization", "id": org}},
        "roles": {"data": [{"type": "permission", "id": admin}]}}}}))
    .await;
    let error = expect_error(wrong_type, 409, "type_mismatch").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/0/type"
    );
    let to_one = post(json!({"data": {"type": "membership", "relationships": {
        "user": {"data": {"type": "user", "id": user}},
        "organization": {"data": {"type": "organization", "id": org}},
        "roles": {"data": {"type": "role", "id": admin}}}}}))
    .await;
    let error = expect_error(to_one, 400, "invalid_document").await;
    assert_eq!(error["source"]["pointer"], "/data/relationships/roles/data");
    let with_attributes = post(
        json!({"data": {"type": "membership", "attributes": {"created_at": "x"},
        "relationships": {
        "user": {"data": {"type": "user", "id": user}},
        "organization": {"data": {"type": "organization", "id": org}}}}}),
    )
    .await;
    expect_error(with_attributes, 422, "read_only_attribute").await;
    assert!(
        app.db.event_types("membership").is_empty(),
        "nothing was written"
    );

    // A membership's user and organization never change; roles are required on PATCH.
    let member = id(&jsonapi(admit(&app, &token, &user, &org, &[&admin]).await).await["data"]);
    let moved = app
        .patch(
            &format!("/api/memberships/{member}"),
            &token,
            &json!({"data": {"type": "membership", "id": member, "relationships": {
                "organization": {"data": {"type": "organization", "id": org}}}}}),
        )
        .await;
    let error = expect_error(moved, 403, "immutable_relationship").await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/organization"
    );
    let empty = app
        .patch(
            &format!("/api/memberships/{member}"),
            &token,
            &json!({"data": {"type": "membership", "id": member}}),
        )
        .await;
    expect_error(empty, 422, "relationship_required").await;
    let error = expect_error(
        replace_roles(&app, &token, &member, &[GHOST]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/0"
    );
    let fetched = jsonapi(app.get(&format!("/api/memberships/{member}"), &token).await).await;
    assert_eq!(role_ids(&fetched["data"]), [admin], "unchanged");
    assert_eq!(app.db.event_types("membership"), ["membership.created"]);
}

async fn filters_select_by_organization_and_user(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (jane, john) = (
        id(&app.create_user(&token, "jane@example.com").await),
        id(&app.create_user(&token, "john@example.com").await),
    );
    let (acme, globex) = (
        id(&create_organization(&app, &token, "Acme").await),
        id(&create_organization(&app, &token, "Globex").await),
    );
    let mut members = Vec::new();
    for (user, org) in [(&jane, &acme), (&john, &acme), (&jane, &globex)] {
        members.push(id(
            &jsonapi(admit(&app, &token, user, org, &[]).await).await["data"]
        ));
    }
    let ids = |body: Value| {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>()
    };
    let get = |query: String| {
        let (app, token) = (&app, token.clone());
        async move { jsonapi(app.get(&format!("/api/memberships{query}"), &token).await).await }
    };
    assert_eq!(
        ids(get(format!("?filter[organization]={acme}")).await),
        [members[0].clone(), members[1].clone()]
    );
    assert_eq!(
        ids(get(format!("?filter[user]={jane}")).await),
        [members[0].clone(), members[2].clone()]
    );
    assert_eq!(
        ids(get(format!(
            "?filter[user]={jane}&filter[organization]={globex}"
        ))
        .await),
        [members[2].clone()]
    );
    assert_eq!(
        ids(get("?sort=-created_at&page[size]=2".into()).await),
        [members[2].clone(), members[1].clone()]
    );
    let first = get("?page[size]=2".into()).await;
    let next = first["links"]["next"].as_str().unwrap().to_owned();
    let second = jsonapi(app.get(next.trim_start_matches(&app.base), &token).await).await;
    assert_eq!(ids(second), [members[2].clone()]);
    assert_eq!(
        ids(get(format!("?filter[user]={GHOST}")).await),
        Vec::<String>::new()
    );
    let error = expect_error(
        app.get("/api/memberships?filter[organization]=nope", &token)
            .await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_eq!(error["source"]["parameter"], "filter[organization]");
    expect_error(
        app.get("/api/memberships?filter[role]=x", &token).await,
        400,
        "invalid_query_parameter",
    )
    .await;
}

async fn deleting_an_organization_a_user_or_a_role_cascades(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let (jane, john) = (
        id(&app.create_user(&token, "jane@example.com").await),
        id(&app.create_user(&token, "john@example.com").await),
    );
    let (acme, globex) = (
        id(&create_organization(&app, &token, "Acme").await),
        id(&create_organization(&app, &token, "Globex").await),
    );
    let (admin, billing) = (
        id(&app.create_role(&token, "admin").await),
        id(&app.create_role(&token, "billing").await),
    );
    let jane_acme =
        id(&jsonapi(admit(&app, &token, &jane, &acme, &[&admin, &billing]).await).await["data"]);
    let _john_acme = id(&jsonapi(admit(&app, &token, &john, &acme, &[]).await).await["data"]);
    let jane_globex =
        id(&jsonapi(admit(&app, &token, &jane, &globex, &[&admin]).await).await["data"]);

    // A role deleted leaves the memberships, without its linkage.
    assert_eq!(
        app.delete(&format!("/api/roles/{admin}"), &token)
            .await
            .status(),
        204
    );
    let fetched = jsonapi(
        app.get(&format!("/api/memberships/{jane_acme}"), &token)
            .await,
    )
    .await;
    assert_eq!(role_ids(&fetched["data"]), [billing.as_str()]);
    let fetched = jsonapi(
        app.get(&format!("/api/memberships/{jane_globex}"), &token)
            .await,
    )
    .await;
    assert!(role_ids(&fetched["data"]).is_empty());

    // A user deleted takes its memberships.
    assert_eq!(
        app.delete(&format!("/api/users/{john}"), &token)
            .await
            .status(),
        204
    );
    let acme_count = jsonapi(app.get(&format!("/api/organizations/{acme}"), &token).await).await;
    assert_eq!(acme_count["data"]["attributes"]["member_count"], 1);

    // An organization deleted takes its memberships; the others stay.
    assert_eq!(
        app.delete(&format!("/api/organizations/{acme}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/memberships/{jane_acme}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let left = jsonapi(app.get("/api/memberships", &token).await).await;
    assert_eq!(left["data"].as_array().unwrap().len(), 1);
    assert_eq!(id(&left["data"][0]), jane_globex);
}

async fn organization_scopes_gate_memberships(store: Store) {
    let app = spawn_app(store).await;
    let admin = app.token(None).await;
    let user = id(&app.create_user(&admin, "jane@example.com").await);
    let org = id(&create_organization(&app, &admin, "Acme").await);
    let users_only = app.token(Some("users:read users:write users:delete")).await;
    expect_error(
        admit(&app, &users_only, &user, &org, &[]).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/api/memberships", &users_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    let writer = app.token(Some("organizations:write")).await;
    let created = admit(&app, &writer, &user, &org, &[]).await;
    assert_eq!(created.status(), 201);
    let member = id(&jsonapi(created).await["data"]);
    let path = format!("/api/memberships/{member}");
    expect_error(app.get(&path, &writer).await, 403, "insufficient_scope").await;
    expect_error(app.delete(&path, &writer).await, 403, "insufficient_scope").await;
    assert_eq!(
        replace_roles(&app, &writer, &member, &[]).await.status(),
        200
    );
    let reader = app.token(Some("organizations:read")).await;
    assert_eq!(app.get(&path, &reader).await.status(), 200);
    expect_error(
        replace_roles(&app, &reader, &member, &[]).await,
        403,
        "insufficient_scope",
    )
    .await;
    let deleter = app.token(Some("organizations:delete")).await;
    assert_eq!(app.delete(&path, &deleter).await.status(), 204);
}

async fn ends_of_another_environment_are_unknown(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = id(&app.create_user(&token, "jane@example.com").await);
    let org = id(&create_organization(&app, &token, "Acme").await);
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
    let staging_token = response["access_token"].as_str().unwrap().to_owned();
    let create_there = |path: &'static str, document: Value| {
        let (app, staging, token) = (&app, staging.clone(), staging_token.clone());
        async move {
            let response = app
                .client
                .post(format!("{staging}{path}"))
                .bearer_auth(token)
                .header("content-type", crate::support::JSONAPI)
                .body(document.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            id(&jsonapi(response).await["data"])
        }
    };
    let foreign_role = create_there(
        "/api/roles",
        json!({"data": {"type": "role", "attributes": {"name": "foreign"}}}),
    )
    .await;
    let foreign_org = create_there(
        "/api/organizations",
        json!({"data": {"type": "organization", "attributes": {"name": "Foreign"}}}),
    )
    .await;

    let error = expect_error(
        admit(&app, &token, &user, &org, &[&foreign_role]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/roles/data/0"
    );
    let error = expect_error(
        admit(&app, &token, &user, &foreign_org, &[]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/organization/data"
    );
    expect_error(
        app.get(&format!("/api/organizations/{foreign_org}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let member = id(&jsonapi(admit(&app, &token, &user, &org, &[]).await).await["data"]);
    let response = app
        .client
        .get(format!("{staging}/api/memberships/{member}"))
        .bearer_auth(&staging_token)
        .send()
        .await
        .unwrap();
    expect_error(response, 404, "not_found").await;
}

on_both_stores!(
    ends_of_another_environment_are_unknown,
    a_membership_goes_through_create_read_list_update_and_delete,
    unknown_ends_and_bad_role_lists_are_refused,
    filters_select_by_organization_and_user,
    deleting_an_organization_a_user_or_a_role_cascades,
    organization_scopes_gate_memberships,
);
