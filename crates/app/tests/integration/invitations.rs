//! The invitations collection end to end: create (token shown once),
//! read, list with filters, revoke, delete, cascades, and the invitee's
//! public answers: accept (creating the user when needed, the membership
//! with the invitation's roles) and decline, with their refusals (wrong
//! token 404, expired 410, settled 409) and the concurrent-accept race.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::organizations::create_organization;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

const GHOST: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

fn id(resource: &Value) -> String {
    resource["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn invite(
    app: &TestApp,
    token: &str,
    organization: &str,
    email: &str,
    roles: &[&str],
) -> reqwest::Response {
    app.post(
        "/api/invitations",
        token,
        &json!({"data": {"type": "invitation",
            "attributes": {"email": email, "role_ids": roles},
            "relationships": {"organization": {"data": {"type": "organization", "id": organization}}}}}),
    )
    .await
}

/// An invitation created through the API: (resource object, token).
pub(crate) async fn invited(
    app: &TestApp,
    token: &str,
    organization: &str,
    email: &str,
    roles: &[&str],
) -> (Value, String) {
    let response = invite(app, token, organization, email, roles).await;
    assert_eq!(response.status(), 201, "create invitation");
    let body = jsonapi(response).await;
    let secret = body["data"]["attributes"]["token"]
        .as_str()
        .expect("the create response carries the token")
        .to_owned();
    (body["data"].clone(), secret)
}

/// `POST /invitations/{id}/{answer}` with a plain JSON body and no management token.
pub(crate) async fn answer(
    app: &TestApp,
    invitation: &str,
    answer: &str,
    body: &Value,
) -> reqwest::Response {
    app.client
        .post(format!("{}/invitations/{invitation}/{answer}", app.base))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("answer")
}

async fn an_invitee_accepts_and_becomes_a_member_with_the_roles(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let admin = id(&app.create_role(&token, "admin").await);
    let billing = id(&app.create_role(&token, "billing").await);

    let created = invite(&app, &token, &org, "Ann@Example.com", &[&billing, &admin]).await;
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(created).await;
    let invitation = &body["data"];
    let invitation_id = id(invitation);
    assert_eq!(
        location,
        format!("{}/api/invitations/{invitation_id}", app.base)
    );
    let attributes = &invitation["attributes"];
    assert_eq!(attributes["email"], "ann@example.com");
    assert_eq!(attributes["status"], "pending");
    assert_eq!(attributes["role_ids"], json!([billing, admin]));
    let secret = attributes["token"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "at least 256 bits");
    assert_eq!(
        invitation["relationships"]["organization"]["data"],
        json!({"type": "organization", "id": org})
    );
    assert_eq!(invitation["relationships"]["user"]["data"], Value::Null);
    // Seven days by default.
    let created_at = time::OffsetDateTime::parse(
        attributes["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let expires_at = time::OffsetDateTime::parse(
        attributes["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(expires_at - created_at, time::Duration::days(7));

    // The token is in no later response and only as a digest at rest.
    let fetched = jsonapi(
        app.get(&format!("/api/invitations/{invitation_id}"), &token)
            .await,
    )
    .await;
    assert!(fetched["data"]["attributes"].get("token").is_none());
    assert!(!fetched.to_string().contains(&secret));
    let at_rest = app
        .db
        .texts("SELECT token_digest AS value FROM invitations");
    assert_eq!(at_rest.len(), 1);
    assert_ne!(at_rest[0], secret);
    assert_eq!(at_rest[0].len(), 64, "hex SHA-256");

    let accepted = answer(
        &app,
        &invitation_id,
        "accept",
        &json!({"token": secret, "first_name": "Ann", "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    let accepted = jsonapi(accepted).await;
    assert_eq!(accepted["data"]["attributes"]["status"], "accepted");
    assert_eq!(accepted["meta"]["user_created"], true);
    let user = accepted["data"]["relationships"]["user"]["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!accepted.to_string().contains(&secret));

    let user_doc = jsonapi(app.get(&format!("/api/users/{user}"), &token).await).await;
    assert_eq!(user_doc["data"]["attributes"]["email"], "ann@example.com");
    assert_eq!(user_doc["data"]["attributes"]["first_name"], "Ann");
    assert_eq!(user_doc["data"]["attributes"]["email_verified"], true);
    let hashes = app
        .db
        .texts("SELECT password_hash AS value FROM users WHERE email = 'ann@example.com'");
    assert!(hashes[0].starts_with("$2"), "a bcrypt hash");

    let members = jsonapi(
        app.get(
            &format!("/api/memberships?filter[organization]={org}&filter[user]={user}"),
            &token,
        )
        .await,
    )
    .await;
    let membership = &members["data"][0];
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        membership["relationships"]["roles"]["data"],
        json!([{"type": "role", "id": billing}, {"type": "role", "id": admin}])
    );
    assert_eq!(accepted["meta"]["membership_id"], membership["id"]);
    let organization = jsonapi(app.get(&format!("/api/organizations/{org}"), &token).await).await;
    assert_eq!(organization["data"]["attributes"]["member_count"], 1);

    // Settled: a second accept, a decline and a revoke are all 409.
    for (path, body) in [
        ("accept", json!({"token": secret})),
        ("decline", json!({"token": secret})),
    ] {
        let error = expect_error(
            answer(&app, &invitation_id, path, &body).await,
            409,
            "invitation_not_pending",
        )
        .await;
        assert!(error["detail"].as_str().unwrap().contains("accepted"));
    }
    expect_error(
        app.patch(
            &format!("/api/invitations/{invitation_id}/revoke"),
            &token,
            &json!({}),
        )
        .await,
        409,
        "invitation_not_pending",
    )
    .await;

    assert_eq!(
        app.db.event_types("invitation"),
        ["invitation.created", "invitation.accepted"]
    );
    assert_eq!(app.db.event_types("membership"), ["membership.created"]);
    assert_eq!(app.db.event_types("user"), ["user.created"]);
    let actors = app
        .db
        .texts("SELECT actor AS value FROM events WHERE event_type = 'invitation.accepted'");
    assert_eq!(actors, ["invitee"]);

    // Deleting the user keeps the invitation as a record, without its user.
    assert_eq!(
        app.delete(&format!("/api/users/{user}"), &token)
            .await
            .status(),
        204
    );
    let fetched = jsonapi(
        app.get(&format!("/api/invitations/{invitation_id}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"]["attributes"]["status"], "accepted");
    assert_eq!(
        fetched["data"]["relationships"]["user"]["data"],
        Value::Null
    );

    assert_eq!(
        app.delete(&format!("/api/invitations/{invitation_id}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/invitations/{invitation_id}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("invitation").last().unwrap(),
        "invitation.deleted"
    );
}

async fn an_existing_user_joins_without_its_credentials_changing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let user = id(&app.create_user(&token, "bob@example.com").await);
    let (invitation, secret) = invited(&app, &token, &org, "BOB@example.com", &[]).await;

    let accepted = answer(
        &app,
        &id(&invitation),
        "accept",
        &json!({"token": secret, "first_name": "Robert", "password": "a new password"}),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    let accepted = jsonapi(accepted).await;
    assert_eq!(accepted["meta"]["user_created"], false);
    assert_eq!(
        accepted["data"]["relationships"]["user"]["data"]["id"],
        user.as_str()
    );
    let user_doc = jsonapi(app.get(&format!("/api/users/{user}"), &token).await).await;
    assert_eq!(user_doc["data"]["attributes"]["first_name"], Value::Null);
    let hashes = app
        .db
        .texts("SELECT COALESCE(password_hash, 'none') AS value FROM users");
    assert_eq!(hashes, ["none"], "no password was set by the invitation");
    assert_eq!(
        app.db.event_types("user"),
        ["user.created"],
        "one, by the API"
    );

    // Now a member: a new invitation for the address is refused.
    let error = expect_error(
        invite(&app, &token, &org, "bob@example.com", &[]).await,
        409,
        "already_member",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/email");
}

async fn answers_are_refused_precisely_and_change_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let (invitation, secret) = invited(&app, &token, &org, "ann@example.com", &[]).await;
    let invitation = id(&invitation);

    // Wrong token and unknown id are the same 404.
    expect_error(
        answer(&app, &invitation, "accept", &json!({"token": "guess"})).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        answer(&app, GHOST, "accept", &json!({"token": secret})).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        answer(&app, "not-an-id", "decline", &json!({"token": secret})).await,
        404,
        "not_found",
    )
    .await;
    // Body shape.
    let error = expect_error(
        answer(&app, &invitation, "accept", &json!({})).await,
        422,
        "token_required",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/token");
    let error = expect_error(
        answer(&app, &invitation, "accept", &json!({"token": 7})).await,
        422,
        "invalid_type",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/token");
    let error = expect_error(
        answer(
            &app,
            &invitation,
            "accept",
            &json!({"token": secret, "role": "admin"}),
        )
        .await,
        400,
        "unknown_member",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/role");
    expect_error(
        answer(
            &app,
            &invitation,
            "decline",
            &json!({"token": secret, "password": "whatever1"}),
        )
        .await,
        400,
        "unknown_member",
    )
    .await;
    let error = expect_error(
        answer(
            &app,
            &invitation,
            "accept",
            &json!({"token": secret, "password": "short"}),
        )
        .await,
        422,
        "password_too_short",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/password");
    let raw = app
        .client
        .post(format!("{}/invitations/{invitation}/accept", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(raw, 400, "malformed_json").await;
    let raw = app
        .client
        .post(format!("{}/invitations/{invitation}/accept", app.base))
        .header("content-type", "text/plain")
        .body(json!({"token": secret}).to_string())
        .send()
        .await
        .unwrap();
    expect_error(raw, 415, "unsupported_media_type").await;
    let raw = app
        .client
        .get(format!("{}/invitations/{invitation}/accept", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["allow"], "POST");
    expect_error(raw, 405, "method_not_allowed").await;

    // None of that changed anything.
    let fetched = jsonapi(
        app.get(&format!("/api/invitations/{invitation}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"]["attributes"]["status"], "pending");
    assert_eq!(app.db.event_types("invitation"), ["invitation.created"]);
    assert!(app.db.event_types("user").is_empty());

    // Expired (moved into the past in the store): 410 for both answers,
    // but an operator can still revoke it.
    let moved = app.db.texts(&format!(
        "UPDATE invitations SET expires_at = created_at WHERE id = '{invitation}' RETURNING id AS value"
    ));
    assert_eq!(moved, [invitation.as_str()]);
    for path in ["accept", "decline"] {
        expect_error(
            answer(&app, &invitation, path, &json!({"token": secret})).await,
            410,
            "invitation_expired",
        )
        .await;
    }
    let revoked = app
        .patch(
            &format!("/api/invitations/{invitation}/revoke"),
            &token,
            &json!({}),
        )
        .await;
    assert_eq!(revoked.status(), 200);
    assert_eq!(
        jsonapi(revoked).await["data"]["attributes"]["status"],
        "revoked"
    );
    expect_error(
        answer(&app, &invitation, "accept", &json!({"token": secret})).await,
        409,
        "invitation_not_pending",
    )
    .await;

    // A declined invitation is settled too.
    let (second, second_secret) = invited(&app, &token, &org, "cy@example.com", &[]).await;
    let declined = answer(
        &app,
        &id(&second),
        "decline",
        &json!({"token": second_secret}),
    )
    .await;
    assert_eq!(declined.status(), 200);
    assert_eq!(
        jsonapi(declined).await["data"]["attributes"]["status"],
        "declined"
    );
    expect_error(
        answer(
            &app,
            &id(&second),
            "accept",
            &json!({"token": second_secret}),
        )
        .await,
        409,
        "invitation_not_pending",
    )
    .await;
    assert!(app.db.event_types("membership").is_empty());
    assert_eq!(
        app.db.event_types("invitation"),
        [
            "invitation.created",
            "invitation.revoked",
            "invitation.created",
            "invitation.declined"
        ]
    );
}

async fn creation_is_validated(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let role = id(&app.create_role(&token, "admin").await);

    let error = expect_error(
        invite(&app, &token, &org, "not-an-address", &[]).await,
        422,
        "invalid_email",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/email");
    let error = expect_error(
        invite(&app, &token, GHOST, "a@example.com", &[]).await,
        422,
        "invalid_relationship",
    )
    .await;
    assert_eq!(
        error["source"]["pointer"],
        "/data/relationships/organization/data"
    );
    let error = expect_error(
        invite(&app, &token, &org, "a@example.com", &[&role, GHOST]).await,
        422,
        "unknown_role",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/role_ids/1");
    let error = expect_error(
        invite(&app, &token, &org, "a@example.com", &[&role, &role]).await,
        422,
        "duplicate_role",
    )
    .await;
    assert_eq!(error["source"]["pointer"], "/data/attributes/role_ids/1");
    let with = |attributes: Value| {
        json!({"data": {"type": "invitation", "attributes": attributes,
            "relationships": {"organization": {"data": {"type": "organization", "id": org}}}}})
    };
    for (attributes, status, code, pointer) in [
        (
            json!({"email": "a@example.com", "expires_at": "2000-01-01T00:00:00Z"}),
            422,
            "expires_at_in_past",
            "/data/attributes/expires_at",
        ),
        (
            json!({"email": "a@example.com", "expires_at": "2999-01-01T00:00:00Z"}),
            422,
            "expires_at_too_far",
            "/data/attributes/expires_at",
        ),
        (
            json!({"email": "a@example.com", "token": "mine"}),
            422,
            "read_only_attribute",
            "/data/attributes/token",
        ),
        (
            json!({"email": "a@example.com", "status": "accepted"}),
            422,
            "read_only_attribute",
            "/data/attributes/status",
        ),
        (
            json!({"email": "a@example.com", "roles": []}),
            400,
            "unknown_attribute",
            "/data/attributes/roles",
        ),
    ] {
        let error = expect_error(
            app.post("/api/invitations", &token, &with(attributes))
                .await,
            status,
            code,
        )
        .await;
        assert_eq!(error["source"]["pointer"], pointer);
    }
    let error = expect_error(
        app.post(
            "/api/invitations",
            &token,
            &json!({"data": {"type": "invitation", "attributes": {"email": "a@example.com"}}}),
        )
        .await,
        422,
        "relationship_required",
    )
    .await;
    assert!(
        error["source"]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/data/relationships/organization")
    );
    // A chosen expiry within the limit is kept.
    let in_a_day = (time::OffsetDateTime::now_utc() + time::Duration::days(1))
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let created = app
        .post(
            "/api/invitations",
            &token,
            &with(json!({"email": "a@example.com", "expires_at": in_a_day})),
        )
        .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        jsonapi(created).await["data"]["attributes"]["expires_at"],
        in_a_day.as_str()
    );
    assert_eq!(app.db.event_types("invitation"), ["invitation.created"]);
}

async fn filters_select_by_organization_status_and_email(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let acme = id(&create_organization(&app, &token, "Acme").await);
    let globex = id(&create_organization(&app, &token, "Globex").await);
    let (a, _) = invited(&app, &token, &acme, "ann@example.com", &[]).await;
    let (b, b_secret) = invited(&app, &token, &acme, "bob@example.com", &[]).await;
    let (c, _) = invited(&app, &token, &globex, "ann@example.com", &[]).await;
    assert_eq!(
        answer(&app, &id(&b), "decline", &json!({"token": b_secret}))
            .await
            .status(),
        200
    );
    let ids =
        |doc: Value| -> Vec<String> { doc["data"].as_array().unwrap().iter().map(id).collect() };
    let listed = |query: String| {
        let app = &app;
        let token = &token;
        async move { jsonapi(app.get(&format!("/api/invitations{query}"), token).await).await }
    };
    assert_eq!(ids(listed(String::new()).await), [id(&a), id(&b), id(&c)]);
    assert_eq!(
        ids(listed(format!("?filter[organization]={acme}")).await),
        [id(&a), id(&b)]
    );
    assert_eq!(
        ids(listed("?filter[status]=declined".into()).await),
        [id(&b)]
    );
    assert_eq!(
        ids(listed("?filter[email]=ANN@example.com".into()).await),
        [id(&a), id(&c)]
    );
    assert_eq!(
        ids(listed(format!(
            "?filter[organization]={acme}&filter[status]=pending"
        ))
        .await),
        [id(&a)]
    );
    assert_eq!(
        ids(listed("?sort=-created_at&page[size]=2".into()).await),
        [id(&c), id(&b)]
    );
    for (query, parameter) in [
        ("?filter[status]=expired", "filter[status]"),
        ("?filter[email]=nobody", "filter[email]"),
        ("?filter[user]=x", "filter[user]"),
    ] {
        let response = app.get(&format!("/api/invitations{query}"), &token).await;
        assert_eq!(response.status(), 400, "{query}");
        let body = jsonapi(response).await;
        assert_eq!(
            body["errors"][0]["source"]["parameter"], parameter,
            "{query}"
        );
    }
}

async fn deleting_an_organization_or_a_role_cascades(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let admin = id(&app.create_role(&token, "admin").await);
    let billing = id(&app.create_role(&token, "billing").await);
    let (invitation, _) = invited(&app, &token, &org, "ann@example.com", &[&admin, &billing]).await;
    let invitation = id(&invitation);

    assert_eq!(
        app.delete(&format!("/api/roles/{admin}"), &token)
            .await
            .status(),
        204
    );
    let fetched = jsonapi(
        app.get(&format!("/api/invitations/{invitation}"), &token)
            .await,
    )
    .await;
    assert_eq!(fetched["data"]["attributes"]["role_ids"], json!([billing]));

    assert_eq!(
        app.delete(&format!("/api/organizations/{org}"), &token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get(&format!("/api/invitations/{invitation}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    assert!(
        app.db
            .texts("SELECT role_id AS value FROM invitation_roles")
            .is_empty()
    );
}

async fn organization_scopes_gate_invitations(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let (invitation, _) = invited(&app, &token, &org, "ann@example.com", &[]).await;
    let invitation = id(&invitation);
    let reader = app.token(Some("organizations:read")).await;
    assert_eq!(app.get("/api/invitations", &reader).await.status(), 200);
    expect_error(
        invite(&app, &reader, &org, "b@example.com", &[]).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.patch(
            &format!("/api/invitations/{invitation}/revoke"),
            &reader,
            &json!({}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/invitations/{invitation}"), &reader)
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    let users_only = app.token(Some("users:read")).await;
    expect_error(
        app.get("/api/invitations", &users_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.client
            .get(format!("{}/api/invitations", app.base))
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
}

async fn concurrent_accepts_yield_one_membership_and_conflicts(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = id(&create_organization(&app, &token, "Acme").await);
    let role = id(&app.create_role(&token, "member").await);
    let (invitation, secret) = invited(&app, &token, &org, "ann@example.com", &[&role]).await;
    let invitation = id(&invitation);

    let body = json!({"token": secret, "password": "correct horse battery"});
    let attempts = (0..6).map(|_| answer(&app, &invitation, "accept", &body));
    let responses = futures_util::future::join_all(attempts).await;
    let mut statuses = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        let document = jsonapi(response).await;
        if status == 409 {
            assert_eq!(
                document["errors"][0]["code"], "invitation_not_pending",
                "the loser sees the winner's outcome, not a constraint: {document}"
            );
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409]);
    assert_eq!(app.db.texts("SELECT id AS value FROM memberships").len(), 1);
    assert_eq!(app.db.texts("SELECT id AS value FROM users").len(), 1);
    assert_eq!(
        app.db.event_types("invitation"),
        ["invitation.created", "invitation.accepted"]
    );
    let roles = app
        .db
        .texts("SELECT role_id AS value FROM membership_roles");
    assert_eq!(roles, [role]);
}

on_both_stores!(
    an_invitee_accepts_and_becomes_a_member_with_the_roles,
    an_existing_user_joins_without_its_credentials_changing,
    answers_are_refused_precisely_and_change_nothing,
    creation_is_validated,
    filters_select_by_organization_status_and_email,
    deleting_an_organization_or_a_role_cascades,
    organization_scopes_gate_invitations,
    concurrent_accepts_yield_one_membership_and_conflicts,
);
