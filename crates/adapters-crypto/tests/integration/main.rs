//! Integration tests of the crypto adapter against real bcrypt, SHA-256,
//! AES-GCM and RSA (no mocks): one module per port.
#![expect(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod cipher;
mod jwt;
mod password;
mod secrets;
