//! `/api/openapi.json` and the browsable docs page `/api/docs`: Swagger UI,
//! whose files are compiled into the binary (no CDN, no download at run
//! time). Neither needs a token: the description is the same for every
//! environment.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

/// The description's own URL, relative to the environment's origin.
const DESCRIPTION_URL: &str = "/api/openapi.json";

fn config() -> Arc<Config<'static>> {
    static CONFIG: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(Config::new([DESCRIPTION_URL]).try_it_out_enabled(true)))
        .clone()
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::cached())
}

/// `GET /api/docs`: Swagger UI's page, its relative links resolved under
/// `/api/docs/`.
pub async fn index() -> Result<HttpResponse, ApiError> {
    file("index.html")
}

/// `GET /api/docs/{file}`: Swagger UI's files (`/api/docs/` is the page).
pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    file(&path)
}

fn file(name: &str) -> Result<HttpResponse, ApiError> {
    let name = if name.is_empty() { "index.html" } else { name };
    let not_found = || ApiError::not_found(format!("no documentation file `{name}`"));
    let served = utoipa_swagger_ui::serve(name, config())
        .map_err(|_| not_found())?
        .ok_or_else(not_found)?;
    let mut response = HttpResponse::Ok();
    response.insert_header((header::CONTENT_TYPE, served.content_type));
    if served.gzpipped {
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    if name == "index.html" {
        let page = String::from_utf8_lossy(&served.bytes).replacen(
            "<head>",
            "<head>\n    <base href=\"/api/docs/\">",
            1,
        );
        return Ok(response.body(page));
    }
    Ok(response.body(served.bytes.into_owned()))
}
