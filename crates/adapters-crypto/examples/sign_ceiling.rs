//! The machine's raw RS256 signing ceiling: one thread per core, each with its
//! own josekit signer parsed once from the same RSA-2048 key, signing a
//! typical access-token payload in a loop for a fixed time, exactly as
//! `JoseJwtSigner::sign` does it (claims map -> `JwtPayload::from_map`,
//! header with `typ` and `kid`, `encode_with_signer`), minus the
//! `spawn_blocking` hop.
//!
//! ```text
//! cargo run --release -p portcullis-adapters-crypto --example sign_ceiling -- [SECONDS] [WARMUP_SECONDS] [THREADS]
//! ```
//!
//! Defaults: 8 s measured after 2 s of warm-up, one thread per core. The last
//! line of output is `signatures_per_second=<N>` for scripts.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use serde_json::{Map, Value, json};

fn arg(position: usize, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::args().nth(position) {
        Some(text) => Ok(text
            .parse()
            .map_err(|e| format!("argument {position} `{text}`: {e}"))?),
        None => Ok(default),
    }
}

/// The claims our token endpoint signs (RFC 9068), with a fresh `jti`.
fn claims(now: i64, sequence: u64) -> Map<String, Value> {
    let mut claims = Map::new();
    for (name, value) in [
        ("iss", json!("http://localhost:8080")),
        ("sub", json!("bench-client-0000000000000000")),
        ("aud", json!("http://localhost:8080/api")),
        ("client_id", json!("bench-client-0000000000000000")),
        (
            "scope",
            json!("users:read users:write signing_keys:read signing_keys:write environments:read"),
        ),
        ("iat", json!(now)),
        ("exp", json!(now + 86_400)),
        ("jti", json!(format!("01JBENCH{sequence:018}"))),
    ] {
        claims.insert(name.to_owned(), value);
    }
    claims
}

fn main() -> Result<(), Box<dyn Error>> {
    let seconds = arg(1, 8)?;
    let warmup = arg(2, 2)?;
    let cores = thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) as u64;
    let threads = arg(3, cores)?.max(1);

    let key_pair = RS256.generate_key_pair(2048)?;
    let pem = Arc::new(key_pair.to_pem_private_key());

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..threads {
        let pem = Arc::clone(&pem);
        let measuring = Arc::clone(&measuring);
        let stop = Arc::clone(&stop);
        workers.push(thread::spawn(move || -> Result<u64, String> {
            // Parsed once per thread, as the server parses once per key.
            let signer = RS256
                .signer_from_pem(pem.as_slice())
                .map_err(|e| e.to_string())?;
            let mut counted = 0_u64;
            let mut sequence = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let payload =
                    JwtPayload::from_map(claims(now, sequence)).map_err(|e| e.to_string())?;
                let mut header = JwsHeader::new();
                header.set_token_type("at+jwt");
                header.set_key_id("bench-kid");
                let token = josekit::jwt::encode_with_signer(&payload, &header, &signer)
                    .map_err(|e| e.to_string())?;
                std::hint::black_box(token);
                sequence += 1;
                if measuring.load(Ordering::Relaxed) {
                    counted += 1;
                }
            }
            Ok(counted)
        }));
    }

    thread::sleep(Duration::from_secs(warmup));
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    thread::sleep(Duration::from_secs(seconds));
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);

    let mut total = 0_u64;
    for worker in workers {
        total += worker.join().map_err(|_| "a signing thread panicked")??;
    }
    let rate = total as f64 / elapsed;
    println!(
        "RS256 (josekit/OpenSSL, RSA-2048): {total} signatures in {elapsed:.2} s on {threads} thread(s) ({cores} core(s)): {rate:.0}/s total, {:.0}/s per thread",
        rate / threads as f64
    );
    println!("signatures_per_second={rate:.0}");
    Ok(())
}
