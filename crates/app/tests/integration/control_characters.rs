//! NUL and other control characters are refused at the edge, with each
//! route's own error, before any text reaches the store: PostgreSQL cannot
//! hold or even compare text holding NUL and used to fail the statement
//! (`500`), while SQLite went on. Query parameters and cursors of every
//! listable collection (read from the published OpenAPI document, which the
//! route table writes, so a new collection is covered by itself), and the
//! form and Basic credentials of the OAuth endpoints. In JSON bodies each
//! text attribute refuses them by its own rule.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, CLIENT_SECRET, Store, TestApp, expect_error, jsonapi, spawn_app};

/// What a refused request could have changed: the audit trail and the
/// resources the tests touch.
async fn snapshot(app: &TestApp, token: &str) -> Vec<Value> {
    let mut state = Vec::new();
    for path in [
        "/api/events?page[size]=500",
        "/api/users?page[size]=500",
        "/api/roles?page[size]=500",
        "/api/clients?page[size]=500",
        "/api/resource-servers?page[size]=500",
    ] {
        let page = jsonapi(app.get(path, token).await).await;
        state.push(page["data"].clone());
    }
    state
}

/// A listable collection: its path (any `{id}` filled with an id that does
/// not exist: queries are checked before the store is asked) and its query
/// parameters as published.
struct Collection {
    path: String,
    sort: String,
    filters: Vec<String>,
}

/// Every `GET` operation of the OpenAPI document that takes `page[after]`.
async fn listable_collections(app: &TestApp) -> Vec<Collection> {
    let document: Value = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut collections = Vec::new();
    for (template, item) in document["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else {
            continue;
        };
        let names: Vec<&str> = parameters
            .iter()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str())
            .collect();
        if !names.contains(&"page[after]") {
            continue;
        }
        let sort = parameters
            .iter()
            .find(|p| p["name"] == "sort")
            .and_then(|p| p["schema"]["enum"][0].as_str())
            .expect("a listing has sort keys")
            .to_owned();
        let path = template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    ulid::Ulid::generate().to_string()
                } else {
                    segment.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        collections.push(Collection {
            path,
            sort,
            filters: names
                .iter()
                .filter(|n| n.starts_with("filter["))
                .map(|n| (*n).to_owned())
                .collect(),
        });
    }
    collections
}

/// A well-formed cursor of the listing sorted by `sort` (ascending) whose
/// key holds `key`.
fn cursor(sort: &str, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{sort}|a|{key}"))
}

async fn expect_refused_parameter(
    app: &TestApp,
    token: &str,
    url: &str,
    code: &str,
    parameter: &str,
) {
    let response = app.get(url, token).await;
    assert_eq!(response.status(), 400, "{url}");
    let error = expect_error(response, 400, code).await;
    assert_eq!(error["source"]["parameter"], parameter, "{url}: {error}");
}

async fn control_characters_in_queries_and_cursors_are_refused_on_every_collection(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    app.create_user(&token, "ada@example.com").await;
    let before = snapshot(&app, &token).await;

    let collections = listable_collections(&app).await;
    // The collections the route table had when this test was written; more
    // is fine (they are covered by themselves), fewer means the OpenAPI
    // document lost its `page[after]` parameters.
    assert!(collections.len() >= 20, "{} listings", collections.len());
    let mut filters_seen = Vec::new();
    for collection in &collections {
        let Collection {
            path,
            sort,
            filters,
        } = collection;
        // A cursor of this very listing (right sort and direction) whose
        // key holds NUL, then another control character.
        for key in ["01KBJ\0", "\0", "a\u{1}b", "x\u{7f}"] {
            let url = format!("{path}?sort={sort}&page[after]={}", cursor(sort, key));
            expect_refused_parameter(&app, &token, &url, "invalid_cursor", "page[after]").await;
        }
        for filter in filters {
            filters_seen.push(filter.clone());
            for value in ["%00", "a%00", "a%00%40x.com", "%1F", "%C2%85"] {
                let url = format!("{path}?{filter}={value}");
                expect_refused_parameter(&app, &token, &url, "invalid_query_parameter", filter)
                    .await;
            }
        }
        // Any other parameter too: the sort key and the page size.
        let url = format!("{path}?sort=created_at%00");
        expect_refused_parameter(&app, &token, &url, "invalid_query_parameter", "sort").await;
        let url = format!("{path}?page[size]=1%00");
        expect_refused_parameter(&app, &token, &url, "invalid_query_parameter", "page[size]").await;
    }
    // The cases of the review, among them.
    for filter in ["filter[search]", "filter[email]"] {
        assert!(filters_seen.iter().any(|f| f == filter), "{filter}");
    }
    let error = expect_error(
        app.get("/api/users?filter[email]=a%00@x.com", &token).await,
        400,
        "invalid_query_parameter",
    )
    .await;
    assert_eq!(
        error["detail"],
        "filter[email] holds the control character U+0000"
    );
    assert_eq!(snapshot(&app, &token).await, before);
}

/// An RFC 6749 error answer.
async fn expect_oauth_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    body
}

async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.post(format!("{}{path}", app.base)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

async fn control_characters_in_oauth_requests_are_refused_without_effect(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let before = snapshot(&app, &token).await;
    let good = Some((CLIENT_ID, CLIENT_SECRET));

    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        // `client_id` in the body (client_secret_post).
        let body = expect_oauth_error(
            post_form(
                &app,
                path,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "a\0"),
                    ("client_secret", CLIENT_SECRET),
                    ("token", &token),
                ],
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        assert_eq!(
            body["error_description"], "parameter `client_id` holds the control character U+0000",
            "{path}"
        );
        // Another control character, in the secret.
        let body = expect_oauth_error(
            post_form(
                &app,
                path,
                None,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("client_secret", "x\u{1b}"),
                    ("token", &token),
                ],
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        assert_eq!(
            body["error_description"],
            "parameter `client_secret` holds the control character U+001B"
        );
        // HTTP Basic, the id form-encoded as RFC 6749 §2.3.1 asks, and raw.
        for id in ["a%00", "a\0"] {
            let body = expect_oauth_error(
                post_form(
                    &app,
                    path,
                    Some((id, CLIENT_SECRET)),
                    &[("grant_type", "client_credentials"), ("token", &token)],
                )
                .await,
                401,
                "invalid_client",
            )
            .await;
            assert_eq!(
                body["error_description"],
                "the Basic credentials hold a control character"
            );
        }
    }
    // `resource` (and `audience`, `scope`) of a token request.
    for name in ["resource", "audience", "scope"] {
        let body = expect_oauth_error(
            post_form(
                &app,
                "/oauth/token",
                good,
                &[
                    ("grant_type", "client_credentials"),
                    (name, "https://api\0"),
                ],
            )
            .await,
            400,
            "invalid_request",
        )
        .await;
        assert_eq!(
            body["error_description"],
            format!("parameter `{name}` holds the control character U+0000")
        );
    }
    // The token of an introspection or revocation.
    for path in ["/oauth/introspect", "/oauth/revoke"] {
        expect_oauth_error(
            post_form(&app, path, good, &[("token", "opaque\0")]).await,
            400,
            "invalid_request",
        )
        .await;
    }

    assert_eq!(snapshot(&app, &token).await, before);
    // The token those requests carried is still good.
    let introspected: Value = post_form(&app, "/oauth/introspect", good, &[("token", &token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
}

async fn nul_in_a_json_body_is_refused_by_each_attribute_and_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let user = app.create_user(&token, "ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let before = snapshot(&app, &token).await;
    // Each text attribute that reaches a text column refuses NUL by its own
    // rule (the domain's value objects), with its own code and pointer.
    let cases = [
        (
            reqwest::Method::POST,
            "/api/roles".to_owned(),
            json!({"data": {"type": "role", "attributes": {"name": "admin\u{0}"}}}),
            "invalid_name",
            "/data/attributes/name",
        ),
        (
            reqwest::Method::POST,
            "/api/users".to_owned(),
            json!({"data": {"type": "user", "attributes": {"email": "bob\u{0}@example.com"}}}),
            "invalid_email",
            "/data/attributes/email",
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/users/{id}"),
            json!({"data": {"type": "user", "id": id, "attributes": {"first_name": "\u{0}"}}}),
            "invalid_name",
            "/data/attributes/first_name",
        ),
        (
            reqwest::Method::POST,
            "/api/resource-servers".to_owned(),
            json!({"data": {"type": "resource_server", "attributes": {
                "name": "API", "identifier": "https://api.example.com/\u{0}"}}}),
            "invalid_identifier",
            "/data/attributes/identifier",
        ),
        (
            reqwest::Method::POST,
            "/api/clients".to_owned(),
            json!({"data": {"type": "client", "attributes": {
                "name": "App", "client_type": "public", "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example.com/cb\u{0}"]}}}),
            "redirect_uri_control_character",
            "/data/attributes/redirect_uris/0",
        ),
    ];
    // Every case is tried before any is judged, so that a failure shows them all.
    let mut answers = Vec::new();
    for (method, path, body, _, _) in &cases {
        let response = app.send_json(method.clone(), path, &token, body).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        let error = &body["errors"][0];
        answers.push((
            status,
            error["code"].clone(),
            error["source"]["pointer"].clone(),
        ));
    }
    let expected: Vec<_> = cases
        .iter()
        .map(|(_, _, _, code, pointer)| (422, json!(code), json!(pointer)))
        .collect();
    assert_eq!(answers, expected);
    assert_eq!(snapshot(&app, &token).await, before);
}

on_both_stores!(
    control_characters_in_queries_and_cursors_are_refused_on_every_collection,
    control_characters_in_oauth_requests_are_refused_without_effect,
    nul_in_a_json_body_is_refused_by_each_attribute_and_changes_nothing,
);
