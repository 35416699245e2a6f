//! # portcullis-adapters-crypto
//!
//! The cryptography adapter: implements the ports of
//! [`portcullis_ports::crypto`] with bcrypt (human passwords), SHA-256
//! (generated secrets), AES-256-GCM (data at rest under the master key) and
//! josekit over OpenSSL (RS256 JWT access tokens). It is the only crate that
//! sees josekit; everything it hands out is a port type.
//!
//! Slow, CPU-bound work (bcrypt, RSA key generation, RSA signing) runs in
//! [`tokio::task::spawn_blocking`], never on an async worker. Token
//! verification is cheap (an RSA public-key operation, tens of microseconds)
//! and runs inline.
//!
//! ```
//! use portcullis_adapters_crypto::{AesGcmCipher, RandomSecrets, generate_master_key, parse_master_key};
//! use portcullis_ports::crypto::{SecretCipher, SecretGenerator};
//! use secrecy::ExposeSecret;
//!
//! let key = parse_master_key(&generate_master_key()).unwrap();
//! let cipher = AesGcmCipher::new(&key);
//! let sealed = cipher.encrypt(b"private key").unwrap();
//! assert_eq!(cipher.decrypt(&sealed).unwrap().expose_secret(), b"private key");
//!
//! let secrets = RandomSecrets::new();
//! let secret = secrets.generate_secret();
//! let digest = secrets.digest_secret(secret.expose_secret());
//! assert!(secrets.verify_secret(secret.expose_secret(), &digest));
//! ```
#![deny(missing_docs)]

mod cipher;
mod jwt;
mod password;
mod secrets;

pub use cipher::{AesGcmCipher, generate_master_key, parse_master_key};
pub use jwt::JoseJwtKeys;
pub use password::BcryptHasher;
pub use secrets::RandomSecrets;

/// Initialises OpenSSL without its exit-time cleanup. Call it first thing in
/// a process, before anything else (libpq's TLS, for one) initialises OpenSSL
/// with the cleanup registered: that cleanup frees OpenSSL's global state
/// while threads of a stopping server may still use it, which corrupts the
/// heap at exit.
pub fn init() {
    openssl::init();
}

use rand::{RngCore as _, TryRngCore as _};

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system cannot provide randomness (`getrandom(2)` failing
/// on Linux is practically impossible); there is no safe fallback, and the
/// ports that need random secrets are infallible by design.
fn os_random<const N: usize>() -> [u8; N] {
    let mut bytes = [0_u8; N];
    rand::rngs::OsRng.unwrap_err().fill_bytes(&mut bytes);
    bytes
}
