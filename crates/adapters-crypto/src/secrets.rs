//! Generated secrets (client secrets, invitation tokens, opaque access
//! tokens) and public identifiers. Secrets carry 256 bits from the operating
//! system's CSPRNG, so they are stored as a plain SHA-256 digest (bcrypt here
//! would cap the token endpoint at a few dozen requests per second) and
//! compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use portcullis_domain::oauth::SecretDigest;
use portcullis_ports::crypto::SecretGenerator;
use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::os_random;

/// [`SecretGenerator`] backed by the OS CSPRNG and SHA-256.
///
/// - secrets: 32 random bytes, base64url without padding (43 characters);
/// - identifiers: 16 random bytes as lower-case hex (32 characters);
/// - digests: lower-case hex SHA-256 (64 characters).
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomSecrets;

impl RandomSecrets {
    /// The generator (it has no state).
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

impl SecretGenerator for RandomSecrets {
    fn generate_secret(&self) -> SecretString {
        SecretString::from(URL_SAFE_NO_PAD.encode(os_random::<32>()))
    }

    fn generate_webhook_secret(&self) -> SecretString {
        // Standard (not URL-safe) base64: what the Standard Webhooks
        // libraries decode after stripping `whsec_`.
        SecretString::from(format!("whsec_{}", STANDARD.encode(os_random::<32>())))
    }

    fn generate_identifier(&self) -> String {
        // Lower-case hex: safe in shells, URLs and form bodies, and never
        // starts with `-` (which command lines would take for an option).
        os_random::<16>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn digest_secret(&self, secret: &str) -> SecretDigest {
        SecretDigest::new(sha256_hex(secret))
    }

    fn verify_secret(&self, secret: &str, digest: &SecretDigest) -> bool {
        // Both sides are 64 hex characters when the digest is well formed;
        // `ct_eq` returns false at once on a length mismatch, which reveals
        // nothing about the secret.
        sha256_hex(secret)
            .as_bytes()
            .ct_eq(digest.as_str().as_bytes())
            .into()
    }
}

/// Lower-case hex SHA-256 of `text`.
fn sha256_hex(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest.iter() {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::sha256_hex;

    #[test]
    fn webhook_secrets_are_whsec_and_32_bytes_of_standard_base64() {
        use base64::Engine as _;
        use portcullis_ports::crypto::SecretGenerator as _;
        use secrecy::ExposeSecret as _;
        let a = super::RandomSecrets::new().generate_webhook_secret();
        let b = super::RandomSecrets::new().generate_webhook_secret();
        let text = a.expose_secret();
        let key = text.strip_prefix("whsec_").unwrap();
        assert_eq!(super::STANDARD.decode(key).unwrap().len(), 32);
        assert_ne!(text, b.expose_secret());
    }

    #[test]
    fn sha256_hex_matches_the_fips_180_2_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
