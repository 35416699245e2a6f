//! A fast webhook receiver for `just bench`: answers every request `204`
//! at once and counts the requests; `GET /count` returns the count. It does
//! not verify signatures (the tests do): it is the "fast local receiver"
//! the delivery throughput is measured against.
//!
//! ```text
//! cargo run --release -p portcullis-app --example webhook_sink -- PORT
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: webhook_sink PORT"))?;
    let count = web::Data::new(Arc::new(AtomicU64::new(0)));
    HttpServer::new(move || {
        App::new()
            .app_data(count.clone())
            .route(
                "/count",
                web::get().to(|count: web::Data<Arc<AtomicU64>>| async move {
                    HttpResponse::Ok().body(count.load(Ordering::Relaxed).to_string())
                }),
            )
            .default_service(web::to(
                |_body: web::Bytes, count: web::Data<Arc<AtomicU64>>| async move {
                    count.fetch_add(1, Ordering::Relaxed);
                    HttpResponse::NoContent().finish()
                },
            ))
    })
    .workers(1)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
