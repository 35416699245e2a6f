//! The same-harness token floor (see STACK.md, "Measuring on two cores"): a
//! minimal actix-web server whose `POST /oauth/token` only parses the form
//! body and signs an RS256 JWT through `JoseJwtKeys` (josekit on tokio's
//! blocking pool, the signer parsed once), exactly the signing path of
//! `portcullis`. No store, no client lookup, no logging, no middleware.
//! Loaded by the same generator with the same connections as the real
//! server, it is the ceiling our token endpoint is judged against.
//!
//! ```text
//! cargo run --release -p portcullis-app --example token_floor -- PORT [WORKERS]
//! ```
//!
//! Listens on 127.0.0.1:PORT with WORKERS actix workers (default: one per
//! core, as `portcullis` with `workers = 0`).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, web};
use portcullis_adapters_crypto::JoseJwtKeys;
use portcullis_ports::crypto::{JwtKeys as _, JwtSigner};
use secrecy::ExposeSecret as _;
use serde_json::{Map, json};

const ISSUER: &str = "http://localhost:8080";

fn io_error(message: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(message.to_string())
}

async fn token(
    form: web::Form<Vec<(String, String)>>,
    signer: web::Data<Arc<dyn JwtSigner>>,
) -> HttpResponse {
    let params = form.into_inner();
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("client_credentials") {
        return HttpResponse::BadRequest()
            .content_type("application/json")
            .body(json!({ "error": "unsupported_grant_type" }).to_string());
    }
    let scope = get("scope").unwrap_or("users:read users:write").to_owned();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut claims = Map::new();
    for (name, value) in [
        ("iss", json!(ISSUER)),
        ("sub", json!("bench-client")),
        ("aud", json!(format!("{ISSUER}/api"))),
        ("client_id", json!("bench-client")),
        ("scope", json!(scope)),
        ("iat", json!(now)),
        ("exp", json!(now + 86_400)),
        ("jti", json!(ulid::Ulid::generate().to_string())),
    ] {
        claims.insert(name.to_owned(), value);
    }
    match signer.sign(claims).await {
        Ok(access_token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .content_type("application/json")
            .body(
                json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": 86_400, "scope": scope })
                    .to_string(),
            ),
        Err(error) => HttpResponse::InternalServerError().body(error.to_string()),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args
        .next()
        .ok_or_else(|| io_error("usage: token_floor PORT [WORKERS]"))?
        .parse()
        .map_err(|e| io_error(format!("PORT: {e}")))?;
    let workers: usize = match args.next() {
        Some(text) => text
            .parse()
            .map_err(|e| io_error(format!("WORKERS: {e}")))?,
        None => 0,
    };

    let keys = JoseJwtKeys::new();
    let pair = keys.generate_key_pair().await.map_err(io_error)?;
    let signer: Arc<dyn JwtSigner> = keys
        .signer(&pair.kid, pair.private_pem.expose_secret())
        .map_err(io_error)?;
    let signer = web::Data::new(signer);

    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(signer.clone())
            .route("/oauth/token", web::post().to(token))
            .route(
                "/health/ready",
                web::get().to(|| async { HttpResponse::Ok().body("ready") }),
            )
    });
    if workers > 0 {
        server = server.workers(workers);
    }
    let server = server.bind(("127.0.0.1", port))?;
    println!("token_floor listening on http://127.0.0.1:{port}");
    server.run().await
}
