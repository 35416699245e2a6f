//! Environments are chosen by host, and nothing crosses them.

use portcullis_application::environments::BootstrapCredentials;
use secrecy::SecretString;
use serde_json::Value;

use crate::on_both_stores;
use crate::support::{CLIENT_ID, Store, expect_error, jsonapi, spawn_app};

const STAGING_ID: &str = "staging-client";
const STAGING_SECRET: &str = "staging-secret-staging-secret-staging";

async fn environments_are_isolated_by_host(store: Store) {
    let app = spawn_app(store).await;
    let staging = app.issuer("staging");
    let unknown = app
        .client
        .get(format!("{}/api/users", app.issuer("other")))
        .send()
        .await
        .unwrap();
    expect_error(unknown, 404, "environment_not_found").await;
    let unknown_token = app
        .client
        .post(format!("{}/oauth/token", app.issuer("other")))
        .send()
        .await
        .unwrap();
    expect_error(unknown_token, 404, "environment_not_found").await;

    let created = app
        .environments
        .create(
            "staging",
            Some(BootstrapCredentials {
                client_id: STAGING_ID.into(),
                client_secret: SecretString::from(STAGING_SECRET),
            }),
        )
        .await
        .unwrap();
    assert_eq!(created.environment.issuer, staging);
    assert!(created.generated_secret.is_none());

    // The default environment's client does not exist in staging.
    let foreign_client = app
        .client
        .post(format!("{staging}/oauth/token"))
        .basic_auth(CLIENT_ID, Some(crate::support::CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign_client.status(), 401);

    let response = app
        .client
        .post(format!("{staging}/oauth/token"))
        .basic_auth(STAGING_ID, Some(STAGING_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let staging_token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let default_token = app.token(None).await;

    // Each environment's token works only there.
    let on_staging = app
        .client
        .get(format!("{staging}/api/users"))
        .bearer_auth(&staging_token)
        .send()
        .await
        .unwrap();
    assert_eq!(on_staging.status(), 200);
    expect_error(
        app.get("/api/users", &staging_token).await,
        401,
        "invalid_token",
    )
    .await;
    let cross = app
        .client
        .get(format!("{staging}/api/users"))
        .bearer_auth(&default_token)
        .send()
        .await
        .unwrap();
    expect_error(cross, 401, "invalid_token").await;

    // Users, emails and keys are per environment.
    app.create_user(&default_token, "same@example.com").await;
    let in_staging = app
        .client
        .post(format!("{staging}/api/users"))
        .bearer_auth(&staging_token)
        .header("content-type", "application/vnd.api+json")
        .body(r#"{"data":{"type":"user","attributes":{"email":"same@example.com"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        in_staging.status(),
        201,
        "the same email in another environment"
    );
    let staging_users = jsonapi(
        app.client
            .get(format!("{staging}/api/users"))
            .bearer_auth(&staging_token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(staging_users["data"].as_array().unwrap().len(), 1);
    let staging_user_id = staging_users["data"][0]["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/api/users/{staging_user_id}"), &default_token)
            .await,
        404,
        "not_found",
    )
    .await;

    let default_jwks: Value = app
        .client
        .get(format!("{}/.well-known/jwks.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let staging_jwks: Value = app
        .client
        .get(format!("{staging}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(
        default_jwks["keys"][0]["kid"],
        staging_jwks["keys"][0]["kid"]
    );
    let discovery: Value = app
        .client
        .get(format!("{staging}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], staging);

    let listed = app.environments.list().await.unwrap();
    let slugs: Vec<&str> = listed.iter().map(|e| e.environment.slug.as_str()).collect();
    assert_eq!(slugs, ["default", "staging"]);
    assert!(
        app.environments.create("staging", None).await.is_err(),
        "slugs are unique"
    );
}

on_both_stores!(environments_are_isolated_by_host);
