//! The OpenAPI description (`/api/openapi.json`) against the live router:
//! the same operations, the scope each one really needs, and the docs page
//! served from the binary. (Its validity and the responses' conformance are
//! checked from outside by `scripts/conformance.sh`.)

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{Store, TestApp, spawn_app};

const METHODS: [&str; 4] = ["get", "post", "patch", "delete"];

async fn description(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/api/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "served without a token");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    doc
}

/// `/api/users/{id}` with every parameter filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| {
            if s.starts_with('{') {
                "01ARZ3NDEKTSV4RRFFQ69G5FAV"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut request = app
        .client
        .request(method.clone(), format!("{}{path}", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == reqwest::Method::POST || method == reqwest::Method::PATCH {
        request = request
            .header("content-type", "application/vnd.api+json")
            .body(json!({ "data": { "type": "nothing" } }).to_string());
    }
    request.send().await.unwrap()
}

/// Every described operation is served (never the router's `405` or its
/// catch-all `404`), and each described path serves no other method: its
/// `405` names exactly the described ones.
async fn the_description_names_exactly_the_served_operations(store: Store) {
    let app = spawn_app(store).await;
    let doc = description(&app).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 50, "{} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        let described: BTreeSet<&str> = METHODS
            .into_iter()
            .filter(|m| item.get(*m).is_some())
            .collect();
        assert!(!described.is_empty(), "{path} describes no operation");
        for method in &described {
            operations += 1;
            let response = send(&app, method, &concrete(path), None).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is described but not served");
            assert!(
                !(status == 404 && body["errors"][0]["detail"] == "no route matches this path"),
                "{method} {path} is described but not routed"
            );
        }
        let response = send(&app, "put", &concrete(path), None).await;
        assert_eq!(response.status(), 405, "PUT {path}");
        let allow: BTreeSet<String> = response.headers()["allow"]
            .to_str()
            .unwrap()
            .split(", ")
            .map(str::to_ascii_lowercase)
            .collect();
        let described: BTreeSet<String> = described.iter().map(|m| (*m).to_owned()).collect();
        assert_eq!(allow, described, "methods served at {path}");
    }
    assert!(operations >= 100, "{operations} operations");
}

/// Each Management API operation names one scope in its security
/// requirement, and that is the scope the handler enforces: without it the
/// answer is `403 insufficient_scope` naming it, with it (alone) it is not.
async fn each_operation_needs_the_scope_it_describes(store: Store) {
    let app = spawn_app(store).await;
    let doc = description(&app).await;
    let all: Vec<String> =
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["scopes"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    let mut with_only: BTreeMap<String, String> = BTreeMap::new();
    let mut without: BTreeMap<String, String> = BTreeMap::new();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let security = op["security"].as_array().unwrap();
            if !path.starts_with("/api/") || security.is_empty() {
                continue;
            }
            assert_eq!(security.len(), 1, "{method} {path}: {security:?}");
            let scopes = security[0]["oauth2"].as_array().unwrap();
            assert_eq!(scopes.len(), 1, "{method} {path}: one scope");
            let scope = scopes[0].as_str().unwrap().to_owned();
            assert!(all.contains(&scope), "{scope} is a declared scope");
            if !with_only.contains_key(&scope) {
                let others: Vec<&str> = all
                    .iter()
                    .filter(|s| **s != scope)
                    .map(String::as_str)
                    .collect();
                with_only.insert(scope.clone(), app.token(Some(&scope)).await);
                without.insert(scope.clone(), app.token(Some(&others.join(" "))).await);
            }
            let target = concrete(path);
            let denied = send(&app, method, &target, Some(&without[&scope])).await;
            assert_eq!(denied.status(), 403, "{method} {path} without {scope}");
            let challenge = denied.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                challenge.contains(&format!("scope=\"{scope}\"")),
                "{method} {path}: {challenge}"
            );
            let allowed = send(&app, method, &target, Some(&with_only[&scope])).await;
            assert!(
                ![401, 403].contains(&allowed.status().as_u16()),
                "{method} {path} with only {scope}: {}",
                allowed.status()
            );
            checked += 1;
        }
    }
    assert!(checked >= 90, "{checked} operations checked");
}

/// `/api/docs` is Swagger UI from the binary: every file the page loads is
/// served under `/api/docs/`, nothing comes from another host, and it shows
/// this server's description.
async fn the_docs_page_ships_its_own_assets(store: Store) {
    let app = spawn_app(store).await;
    let page = app
        .client
        .get(format!("{}/api/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<base href=\"/api/docs/\">"), "{html}");
    let mut files = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let target = piece.split('"').next().unwrap();
            files.push(target.to_owned());
        }
    }
    assert!(files.len() >= 4, "{files:?}");
    let mut scripts = String::new();
    for file in files.iter().filter(|f| *f != "/api/docs/") {
        assert!(!file.contains("//"), "{file} is loaded from another host");
        let url = format!("{}/api/docs/{}", app.base, file.trim_start_matches("./"));
        let response = app.client.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        if file.ends_with(".js") {
            scripts.push_str(&response.text().await.unwrap());
        }
    }
    assert!(
        scripts.contains("\"/api/openapi.json\""),
        "the page loads our description"
    );

    let missing = app
        .client
        .get(format!("{}/api/docs/nothing.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/vnd.api+json"
    );
}

on_both_stores!(
    the_description_names_exactly_the_served_operations,
    each_operation_needs_the_scope_it_describes,
    the_docs_page_ships_its_own_assets,
);
