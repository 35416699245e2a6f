//! One person is one address: an address that only looks like another one
//! (fullwidth letters, a decomposed accent) is the same address (`409` on
//! create), and one holding an invisible or bidirectional formatting
//! character is refused (`422 email_invisible_character`); never a second
//! user. The same rule holds for invitations and the `filter[email]` of
//! both listings, and rows stored before the rule keep being read.

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::organizations::create_organization;
use crate::support::{Store, TestApp, expect_error, jsonapi, spawn_app};

/// Fold to an existing address: the create is a conflict.
const SAME: [(&str, &str); 4] = [
    ("\u{ff24}UP@example.com", "dup@example.com"),
    (
        "\u{ff24}\u{ff35}\u{ff30}@\u{ff25}xample.com",
        "dup@example.com",
    ),
    ("jose\u{301}@example.com", "jos\u{e9}@example.com"),
    ("JOSE\u{301}@EXAMPLE.COM", "jos\u{e9}@example.com"),
];

/// Hold an invisible or formatting character: refused.
const INVISIBLE: [(&str, &str); 7] = [
    ("d\u{200b}up@example.com", "U+200B"),
    ("du\u{ad}p@example.com", "U+00AD"),
    ("\u{202e}dup@example.com", "U+202E"),
    ("dup\u{2066}@example.com", "U+2066"),
    ("\u{feff}dup@example.com", "U+FEFF"),
    ("jose\u{200d}\u{301}@example.com", "U+200D"),
    ("dup@exam\u{2069}ple.com", "U+2069"),
];

/// `path?filter[email]=<address, percent-encoded>`.
fn filtered(path: &str, email: &str) -> String {
    let encoded: String = email
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{path}?filter[email]={encoded}")
}

fn user_body(email: &str) -> Value {
    json!({"data": {"type": "user", "attributes": {"email": email}}})
}

async fn emails(app: &TestApp, token: &str) -> Vec<String> {
    let page = jsonapi(app.get("/api/users?page[size]=500", token).await).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["attributes"]["email"].as_str().unwrap().to_owned())
        .collect()
}

async fn look_alike_addresses_never_make_a_second_user(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let dup = app.create_user(&token, "dup@example.com").await;
    let jose = app.create_user(&token, "jos\u{e9}@example.com").await;
    let before = emails(&app, &token).await;

    for (look_alike, canonical) in SAME {
        let error = expect_error(
            app.post("/api/users", &token, &user_body(look_alike)).await,
            409,
            "email_taken",
        )
        .await;
        assert_eq!(
            error["source"]["pointer"], "/data/attributes/email",
            "{look_alike:?}"
        );
        // The filter folds the same way and finds the one user.
        let found = jsonapi(app.get(&filtered("/api/users", look_alike), &token).await).await;
        let found = found["data"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{look_alike:?}");
        assert_eq!(found[0]["attributes"]["email"], canonical);
    }
    for (invisible, code_point) in INVISIBLE {
        let error = expect_error(
            app.post("/api/users", &token, &user_body(invisible)).await,
            422,
            "email_invisible_character",
        )
        .await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/email");
        assert_eq!(
            error["detail"],
            format!("email contains the invisible or formatting character {code_point}"),
        );
        // Nor may another user take it by a change of address.
        let id = jose["id"].as_str().unwrap();
        let error = expect_error(
            app.patch(
                &format!("/api/users/{id}"),
                &token,
                &json!({"data": {"type": "user", "id": id, "attributes": {"email": invisible}}}),
            )
            .await,
            422,
            "email_invisible_character",
        )
        .await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/email");
        let response = app.get(&filtered("/api/users", invisible), &token).await;
        let error = expect_error(response, 400, "invalid_filter").await;
        assert_eq!(error["source"]["parameter"], "filter[email]");
    }
    // A change of address to a look-alike of another user's is a conflict.
    let id = jose["id"].as_str().unwrap();
    expect_error(
        app.patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "id": id, "attributes": {"email": "\u{ff24}up@example.com"}}}),
        )
        .await,
        409,
        "email_taken",
    )
    .await;
    assert_eq!(emails(&app, &token).await, before);
    assert_eq!(before, ["dup@example.com", "jos\u{e9}@example.com"]);
    assert_eq!(dup["attributes"]["email"], "dup@example.com");
}

async fn invitations_fold_and_refuse_addresses_like_users(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let org = create_organization(&app, &token, "Acme").await;
    let org = org["id"].as_str().unwrap();
    let invite = |email: &str| {
        json!({"data": {"type": "invitation",
            "attributes": {"email": email, "role_ids": []},
            "relationships": {"organization": {"data": {"type": "organization", "id": org}}}}})
    };
    for (invisible, _) in INVISIBLE {
        let error = expect_error(
            app.post("/api/invitations", &token, &invite(invisible))
                .await,
            422,
            "email_invisible_character",
        )
        .await;
        assert_eq!(error["source"]["pointer"], "/data/attributes/email");
    }
    let created = app
        .post(
            "/api/invitations",
            &token,
            &invite("\u{ff24}UP@example.com"),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created = jsonapi(created).await;
    assert_eq!(created["data"]["attributes"]["email"], "dup@example.com");
    let listed = jsonapi(
        app.get(
            &filtered("/api/invitations", "D\u{ff35}P@example.com"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let listed = jsonapi(app.get("/api/invitations", &token).await).await;
    assert_eq!(
        listed["data"].as_array().unwrap().len(),
        1,
        "nothing else was created"
    );
}

async fn addresses_stored_before_the_rule_are_still_read(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = app.create_user(&token, "legacy@example.com").await;
    let id = user["id"].as_str().unwrap();
    // What an earlier version stored for `le\u{200b}gacy@example.com`.
    let stored = app.db.texts(
        "UPDATE users SET email = 'le\u{200b}gacy@example.com' \
         WHERE email = 'legacy@example.com' RETURNING email AS value",
    );
    assert_eq!(stored, ["le\u{200b}gacy@example.com"]);
    let fetched = jsonapi(app.get(&format!("/api/users/{id}"), &token).await).await;
    assert_eq!(
        fetched["data"]["attributes"]["email"],
        "le\u{200b}gacy@example.com"
    );
    assert_eq!(emails(&app, &token).await, ["le\u{200b}gacy@example.com"]);
    // It can still be changed, to a canonical address.
    let patched = app
        .patch(
            &format!("/api/users/{id}"),
            &token,
            &json!({"data": {"type": "user", "id": id, "attributes": {"email": "LEGACY@example.com", "first_name": "Lee"}}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(emails(&app, &token).await, ["legacy@example.com"]);
}

on_both_stores!(
    look_alike_addresses_never_make_a_second_user,
    invitations_fold_and_refuse_addresses_like_users,
    addresses_stored_before_the_rule_are_still_read,
);
