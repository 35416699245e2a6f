//! The clients collection end to end, with `rotate_secret` and the token
//! endpoint: a secret shows once, and a rotated one stops working at once.

use portcullis_adapters_crypto::RandomSecrets;
use portcullis_application::environments::BootstrapCredentials;
use portcullis_domain::oauth::ClientGrant;
use portcullis_domain::{ClientGrantId, ClientId, Timestamp};
use portcullis_ports::crypto::SecretGenerator;
use portcullis_ports::store::{StoreError, UnitOfWork};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::on_both_stores;
use crate::support::{CLIENT_ID, Store, TestApp, expect_error, jsonapi, spawn_app};

async fn create(app: &TestApp, token: &str, attributes: Value) -> reqwest::Response {
    app.post(
        "/api/clients",
        token,
        &json!({"data": {"type": "client", "attributes": attributes}}),
    )
    .await
}

/// Creates a client; returns its resource object (with its secret).
async fn created(app: &TestApp, token: &str, attributes: Value) -> Value {
    let response = create(app, token, attributes).await;
    assert_eq!(response.status(), 201);
    jsonapi(response).await["data"].clone()
}

/// A client-credentials request with HTTP Basic credentials.
async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/oauth/token", app.base))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Grants `scopes` of the Management API to the client with record id `id`,
/// directly in the store.
async fn grant_management_api(app: &TestApp, id: &str, scopes: &[&str]) {
    let client = ClientId::parse(id).unwrap();
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    app.store
        .transaction(move |tx| {
            let env = tx.find_environment_by_slug("default")?.unwrap();
            let api = tx.find_system_resource_server(env.id)?.unwrap();
            tx.insert_client_grant(&ClientGrant {
                id: ClientGrantId::from_ulid(ulid::Ulid::generate()),
                environment_id: env.id,
                client_id: client,
                resource_server_id: api.id,
                allowed_scopes: scopes,
                created_at: Timestamp::from_unix_micros(1_767_225_600_000_000).unwrap(),
            })
        })
        .await
        .map_err(|e: StoreError| e)
        .unwrap();
}

/// Asserts that no audit event about clients carries `secret` or its digest.
fn events_hide(app: &TestApp, secret: &str) {
    let digest = RandomSecrets.digest_secret(secret);
    for data in app.db.event_data("client") {
        assert!(!data.contains(secret), "secret in an event: {data}");
        assert!(
            !data.contains(digest.as_str()),
            "digest in an event: {data}"
        );
        assert!(
            !data.contains("secret"),
            "secret member in an event: {data}"
        );
    }
}

async fn a_confidential_client_goes_through_its_whole_life(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = create(
        &app,
        &token,
        json!({"name": " Billing job ", "client_type": "confidential"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body = jsonapi(response).await;
    let client = &body["data"];
    let id = client["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{}/api/clients/{id}", app.base));
    assert_eq!(client["type"], "client");
    let attributes = &client["attributes"];
    assert_eq!(attributes["name"], "Billing job");
    assert_eq!(attributes["client_type"], "confidential");
    assert_eq!(attributes["grant_types"], json!(["client_credentials"]));
    assert_eq!(attributes["redirect_uris"], json!([]));
    assert_eq!(attributes["token_format"], "jwt");
    assert_eq!(attributes["first_party"], false);
    let client_id = attributes["client_id"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 32, "generated like the bootstrap client's");
    let secret = attributes["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.len() >= 43, "256 random bits");
    assert!(attributes["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched = jsonapi(app.get(&format!("/api/clients/{id}"), &token).await).await;
    assert!(fetched["data"]["attributes"].get("client_secret").is_none());
    assert_eq!(
        fetched["data"]["attributes"]["client_id"],
        client_id.as_str()
    );
    assert!(!fetched.to_string().contains(&secret));

    let patched = app
        .patch(
            &format!("/api/clients/{id}"),
            &token,
            &json!({"data": {"type": "client", "id": id, "attributes": {
                "name": "Billing", "grant_types": ["client_credentials", "authorization_code"],
                "redirect_uris": ["https://billing.example.com/cb", "http://127.0.0.1:9000/cb"],
                "token_format": "opaque", "first_party": true, "client_type": "confidential"
            }}}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched = jsonapi(patched).await;
    let attributes = &patched["data"]["attributes"];
    assert_eq!(attributes["name"], "Billing");
    assert_eq!(
        attributes["redirect_uris"],
        json!(["https://billing.example.com/cb", "http://127.0.0.1:9000/cb"])
    );
    assert_eq!(attributes["token_format"], "opaque");
    assert_eq!(attributes["first_party"], true);
    assert!(attributes.get("client_secret").is_none());

    let listed = jsonapi(app.get("/api/clients", &token).await).await;
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "the bootstrap client and this one");
    assert_eq!(listed[1], patched["data"]);
    assert!(
        listed
            .iter()
            .all(|c| c["attributes"].get("client_secret").is_none())
    );

    let deleted = app.delete(&format!("/api/clients/{id}"), &token).await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        app.get(&format!("/api/clients/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.delete(&format!("/api/clients/{id}"), &token).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        app.db.event_types("client"),
        // The first is the bootstrap client's, from the environment's creation.
        [
            "client.created",
            "client.created",
            "client.updated",
            "client.deleted"
        ]
    );
    events_hide(&app, &secret);
}

async fn a_rotated_secret_replaces_the_old_one_at_once_at_the_token_endpoint(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let client = created(
        &app,
        &token,
        json!({"name": "Machine", "client_type": "confidential"}),
    )
    .await;
    let id = client["id"].as_str().unwrap().to_owned();
    let client_id = client["attributes"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = client["attributes"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body) = token_status(&app, &client_id, &old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_target")),
        "no grant yet"
    );
    grant_management_api(&app, &id, &["clients:read"]).await;
    let (status, body) = token_status(&app, &client_id, &old).await;
    assert_eq!(status, 200, "{body}");
    let own = body["access_token"].as_str().unwrap().to_owned();
    // The new client's own token works on the API, within its scopes.
    assert_eq!(app.get("/api/clients", &own).await.status(), 200);
    expect_error(
        create(&app, &own, json!({"name": "x", "client_type": "public"})).await,
        403,
        "insufficient_scope",
    )
    .await;
    // Remembered by the token endpoint now.
    assert_eq!(token_status(&app, &client_id, &old).await.0, 200);

    let rotated = app
        .client
        .patch(format!("{}/api/clients/{id}/rotate_secret", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated = jsonapi(rotated).await;
    let new = rotated["data"]["attributes"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert_eq!(
        rotated["data"]["attributes"]["client_id"],
        client_id.as_str()
    );

    let (status, body) = token_status(&app, &client_id, &old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(token_status(&app, &client_id, &new).await.0, 200);

    let fetched = jsonapi(app.get(&format!("/api/clients/{id}"), &token).await).await;
    assert!(fetched["data"]["attributes"].get("client_secret").is_none());
    assert_eq!(
        app.db.event_types("client"),
        ["client.created", "client.created", "client.secret_rotated"]
    );
    events_hide(&app, &old);
    events_hide(&app, &new);

    // Deleting the client (and its grant) also ends its tokens at once.
    assert_eq!(
        app.delete(&format!("/api/clients/{id}"), &token)
            .await
            .status(),
        204
    );
    assert_eq!(token_status(&app, &client_id, &new).await.0, 401);

    let public = created(
        &app,
        &token,
        json!({"name": "SPA", "client_type": "public", "redirect_uris": ["https://spa.example/cb"]}),
    )
    .await;
    assert!(public["attributes"].get("client_secret").is_none());
    assert_eq!(
        public["attributes"]["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let public_id = public["id"].as_str().unwrap();
    let refused = app
        .client
        .patch(format!(
            "{}/api/clients/{public_id}/rotate_secret",
            app.base
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    expect_error(refused, 409, "public_client").await;
    let wrong_method = app
        .get(&format!("/api/clients/{public_id}/rotate_secret"), &token)
        .await;
    assert_eq!(wrong_method.headers()["allow"], "PATCH");
    expect_error(wrong_method, 405, "method_not_allowed").await;
}

async fn every_bad_attribute_is_a_422_at_its_pointer_and_changes_nothing(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let response = create(
        &app,
        &token,
        json!({"name": "SPA", "client_type": "public",
            "grant_types": ["authorization_code", "client_credentials"],
            "redirect_uris": ["https://a.example/cb", "http://localhost:3000/cb",
                "http://[::1]/cb", "http://evil.example/cb", "https://a.example/cb",
                "https://a.example/x#frag", "/relative"]}),
    )
    .await;
    assert_eq!(response.status(), 422);
    let body = jsonapi(response).await;
    let found: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["status"], "422");
            (
                e["source"]["pointer"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("/data/attributes/redirect_uris/3", "insecure_redirect_uri"),
        ("/data/attributes/redirect_uris/4", "duplicate_redirect_uri"),
        ("/data/attributes/redirect_uris/5", "redirect_uri_fragment"),
        (
            "/data/attributes/redirect_uris/6",
            "redirect_uri_not_absolute",
        ),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(found, expected);

    let cases = [
        (
            json!({"name": "x"}),
            "/data/attributes/client_type",
            "client_type_required",
        ),
        (
            json!({"client_type": "public"}),
            "/data/attributes/name",
            "name_required",
        ),
        (
            json!({"name": "x", "client_type": "robot"}),
            "/data/attributes/client_type",
            "invalid_client_type",
        ),
        (
            json!({"name": "x", "client_type": "public", "grant_types": ["client_credentials"]}),
            "/data/attributes/grant_types/0",
            "public_client_credentials",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "grant_types": ["authorization_code"]}),
            "/data/attributes/redirect_uris",
            "redirect_uri_required",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "grant_types": []}),
            "/data/attributes/grant_types",
            "grant_types_empty",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "grant_types": ["password"]}),
            "/data/attributes/grant_types/0",
            "invalid_grant_type",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "grant_types": ["client_credentials", 7]}),
            "/data/attributes/grant_types/1",
            "invalid_type",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "redirect_uris": "https://a.example"}),
            "/data/attributes/redirect_uris",
            "invalid_type",
        ),
        (
            json!({"name": "x", "client_type": "confidential",
            "redirect_uris": (0..11).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>()}),
            "/data/attributes/redirect_uris",
            "too_many_redirect_uris",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "token_format": "saml"}),
            "/data/attributes/token_format",
            "invalid_token_format",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "first_party": "yes"}),
            "/data/attributes/first_party",
            "invalid_type",
        ),
        (
            json!({"name": null, "client_type": "confidential"}),
            "/data/attributes/name",
            "null_not_allowed",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "client_id": "mine"}),
            "/data/attributes/client_id",
            "read_only_attribute",
        ),
        (
            json!({"name": "x", "client_type": "confidential", "client_secret": "a-secret-of-my-choosing-0123456789"}),
            "/data/attributes/client_secret",
            "read_only_attribute",
        ),
    ];
    for (attributes, pointer, code) in cases {
        let error = expect_error(create(&app, &token, attributes.clone()).await, 422, code).await;
        assert_eq!(error["source"]["pointer"], pointer, "{attributes}");
    }
    let unknown = expect_error(
        create(
            &app,
            &token,
            json!({"name": "x", "client_type": "public", "secret": "x"}),
        )
        .await,
        400,
        "unknown_attribute",
    )
    .await;
    assert_eq!(unknown["source"]["pointer"], "/data/attributes/secret");

    // Updates: the type is fixed, rules hold against the stored client.
    let spa = created(
        &app,
        &token,
        json!({"name": "SPA", "client_type": "public", "redirect_uris": ["https://spa.example/cb"]}),
    )
    .await;
    let id = spa["id"].as_str().unwrap();
    let patch = |attributes: Value| {
        let app = &app;
        let token = &token;
        async move {
            app.patch(
                &format!("/api/clients/{id}"),
                token,
                &json!({"data": {"type": "client", "id": id, "attributes": attributes}}),
            )
            .await
        }
    };
    let cases = [
        (
            json!({"client_type": "confidential"}),
            "/data/attributes/client_type",
            "client_type_immutable",
        ),
        (
            json!({"redirect_uris": []}),
            "/data/attributes/redirect_uris",
            "redirect_uri_required",
        ),
        (
            json!({"grant_types": ["refresh_token", "client_credentials"]}),
            "/data/attributes/grant_types/1",
            "public_client_credentials",
        ),
        (
            json!({"client_id": "mine"}),
            "/data/attributes/client_id",
            "read_only_attribute",
        ),
        (
            json!({"client_secret": "mine"}),
            "/data/attributes/client_secret",
            "read_only_attribute",
        ),
        (
            json!({"redirect_uris": null}),
            "/data/attributes/redirect_uris",
            "null_not_allowed",
        ),
    ];
    for (attributes, pointer, code) in cases {
        let error = expect_error(patch(attributes.clone()).await, 422, code).await;
        assert_eq!(error["source"]["pointer"], pointer, "{attributes}");
    }
    let mismatch = app
        .patch(
            &format!("/api/clients/{id}"),
            &token,
            &json!({"data": {"type": "client", "id": "01HQ0000000000000000000000", "attributes": {"name": "y"}}}),
        )
        .await;
    assert_eq!(mismatch.status(), 409);
    let wrong_type = app
        .patch(
            &format!("/api/clients/{id}"),
            &token,
            &json!({"data": {"type": "permission", "id": id, "attributes": {"name": "y"}}}),
        )
        .await;
    assert_eq!(wrong_type.status(), 409);
    let not_allowed = app.delete("/api/clients", &token).await;
    assert_eq!(not_allowed.headers()["allow"], "GET, POST");
    expect_error(not_allowed, 405, "method_not_allowed").await;
    let fetched = jsonapi(app.get(&format!("/api/clients/{id}"), &token).await).await;
    assert_eq!(fetched["data"], spa, "nothing changed");
    assert_eq!(
        app.db.event_types("client"),
        ["client.created", "client.created"]
    );
}

async fn scopes_environments_and_self_deletion_are_enforced(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    let read_only = app.token(Some("clients:read")).await;
    expect_error(
        create(
            &app,
            &read_only,
            json!({"name": "x", "client_type": "public"}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let machine = created(
        &app,
        &token,
        json!({"name": "M", "client_type": "confidential"}),
    )
    .await;
    let id = machine["id"].as_str().unwrap();
    let rotate = app
        .client
        .patch(format!("{}/api/clients/{id}/rotate_secret", app.base))
        .bearer_auth(&read_only)
        .send()
        .await
        .unwrap();
    expect_error(rotate, 403, "insufficient_scope").await;
    expect_error(
        app.delete(&format!("/api/clients/{id}"), &read_only).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/api/clients/not-a-ulid", &token).await,
        404,
        "not_found",
    )
    .await;

    // The caller cannot delete its own client: the environment would lock itself out.
    let listed = jsonapi(app.get("/api/clients", &token).await).await;
    let bootstrap = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["attributes"]["client_id"] == CLIENT_ID)
        .unwrap()
        .clone();
    let bootstrap_id = bootstrap["id"].as_str().unwrap();
    expect_error(
        app.delete(&format!("/api/clients/{bootstrap_id}"), &token)
            .await,
        409,
        "self_deletion",
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/clients/{bootstrap_id}"), &token)
            .await
            .status(),
        200
    );

    // Another environment sees none of this one's clients.
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
    let response = app
        .client
        .post(format!("{staging}/oauth/token"))
        .basic_auth(
            "staging-client",
            Some("staging-secret-staging-secret-staging"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let staging_token: Value = response.json().await.unwrap();
    let staging_token = staging_token["access_token"].as_str().unwrap();
    let foreign = app
        .client
        .get(format!("{staging}/api/clients/{id}"))
        .bearer_auth(staging_token)
        .send()
        .await
        .unwrap();
    expect_error(foreign, 404, "not_found").await;
    let foreign = app
        .client
        .delete(format!("{staging}/api/clients/{id}"))
        .bearer_auth(staging_token)
        .send()
        .await
        .unwrap();
    expect_error(foreign, 404, "not_found").await;
    assert_eq!(
        app.get(&format!("/api/clients/{id}"), &token)
            .await
            .status(),
        200
    );
    // Both bootstrap clients and `M`; no deletion happened.
    assert_eq!(
        app.db.event_types("client"),
        ["client.created", "client.created", "client.created"]
    );
}

async fn clients_are_listed_by_keyset_both_ways(store: Store) {
    let app = spawn_app(store).await;
    let token = app.token(None).await;
    for name in ["a", "b", "c"] {
        created(
            &app,
            &token,
            json!({"name": name, "client_type": "confidential"}),
        )
        .await;
    }
    let names = |doc: &Value| -> Vec<String> {
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["attributes"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = jsonapi(app.get("/api/clients?page[size]=2", &token).await).await;
    assert_eq!(names(&first)[1], "a", "the bootstrap client comes first");
    let next = first["links"]["next"].as_str().unwrap();
    let second = app
        .client
        .get(next)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let second = jsonapi(second).await;
    assert_eq!(names(&second), ["b", "c"]);
    assert!(second["links"].get("next").is_none());
    let back = jsonapi(
        app.get("/api/clients?sort=-created_at&page[size]=2", &token)
            .await,
    )
    .await;
    assert_eq!(names(&back), ["c", "b"]);
    expect_error(
        app.get("/api/clients?page[size]=0", &token).await,
        400,
        "invalid_page_size",
    )
    .await;
}

on_both_stores!(
    a_confidential_client_goes_through_its_whole_life,
    a_rotated_secret_replaces_the_old_one_at_once_at_the_token_endpoint,
    every_bad_attribute_is_a_422_at_its_pointer_and_changes_nothing,
    scopes_environments_and_self_deletion_are_enforced,
    clients_are_listed_by_keyset_both_ways,
);
