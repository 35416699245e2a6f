use std::collections::HashSet;

use portcullis_adapters_crypto::RandomSecrets;
use portcullis_domain::oauth::SecretDigest;
use portcullis_ports::crypto::SecretGenerator;
use secrecy::ExposeSecret;

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[test]
fn secrets_are_43_url_safe_characters_and_distinct() {
    let secrets = RandomSecrets::new();
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let secret = secrets.generate_secret();
        let text = secret.expose_secret();
        assert_eq!(text.len(), 43, "32 bytes, base64url without padding");
        assert!(is_base64url(text), "{text}");
        assert!(seen.insert(text.to_owned()), "duplicate secret");
    }
}

#[test]
fn identifiers_are_32_lower_hex_characters_and_distinct() {
    let secrets = RandomSecrets::new();
    let mut seen = HashSet::new();
    for _ in 0..100 {
        let id = secrets.generate_identifier();
        assert_eq!(id.len(), 32, "16 bytes as hex");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
        assert!(seen.insert(id), "duplicate identifier");
    }
}

#[test]
fn digest_is_lower_case_hex_sha256() {
    let secrets = RandomSecrets::new();
    let digest = secrets.digest_secret("abc");
    assert_eq!(
        digest.as_str(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let generated = secrets.generate_secret();
    let digest = secrets.digest_secret(generated.expose_secret());
    assert_eq!(digest.as_str().len(), 64);
    assert!(
        digest
            .as_str()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert!(!digest.as_str().contains(generated.expose_secret()));
}

#[test]
fn verify_secret_accepts_only_the_secret_with_that_digest() {
    let secrets = RandomSecrets::new();
    let secret = secrets.generate_secret();
    let digest = secrets.digest_secret(secret.expose_secret());
    assert!(secrets.verify_secret(secret.expose_secret(), &digest));
    let other = secrets.generate_secret();
    assert!(!secrets.verify_secret(other.expose_secret(), &digest));
    assert!(!secrets.verify_secret("", &digest));
    assert!(!secrets.verify_secret(secret.expose_secret(), &SecretDigest::new(String::new())));
    let truncated = SecretDigest::new(digest.as_str()[..63].to_owned());
    assert!(!secrets.verify_secret(secret.expose_secret(), &truncated));
}
