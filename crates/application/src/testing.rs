//! Shared doubles for the use-case tests: mocked ports with predictable answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_domain::Timestamp;
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::user::PasswordHash;
use portcullis_ports::crypto::{
    GeneratedKeyPair, MockJwtKeys, MockPasswordHasher, MockSecretCipher, MockSecretGenerator,
};
use portcullis_ports::testing::InlineUow;
use portcullis_ports::{MockClock, MockIdGen};
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::Ports;

/// The instant every mocked clock reads.
pub(crate) const NOW_MICROS: i64 = 1_767_225_600_000_000;

pub(crate) fn now() -> Timestamp {
    Timestamp::from_unix_micros(NOW_MICROS).unwrap()
}

pub(crate) fn key_pair() -> GeneratedKeyPair {
    GeneratedKeyPair {
        kid: "kid-1".into(),
        private_pem: SecretBox::new(b"PRIVATE PEM".to_vec().into_boxed_slice()),
        public_jwk: r#"{"kty":"RSA","kid":"kid-1"}"#.into(),
    }
}

/// Ports whose crypto is transparent: hashes are `hash:<password>`, digests
/// `digest-of:<secret>`, the cipher is the identity, ids count up from 1.
pub(crate) fn fixed_ports(store: InlineUow, pair: Option<GeneratedKeyPair>) -> Ports<InlineUow> {
    let mut jwt = MockJwtKeys::new();
    if let Some(pair) = pair {
        let pem = pair.private_pem.expose_secret().to_vec();
        let (kid, jwk) = (pair.kid, pair.public_jwk);
        jwt.expect_generate_key_pair().times(1).returning(move || {
            Ok(GeneratedKeyPair {
                kid: kid.clone(),
                private_pem: SecretBox::new(pem.clone().into_boxed_slice()),
                public_jwk: jwk.clone(),
            })
        });
    }
    ports_with_jwt(store, jwt)
}

/// As [`fixed_ports`], with the caller's JWT mock.
pub(crate) fn ports_with_jwt(store: InlineUow, jwt: MockJwtKeys) -> Ports<InlineUow> {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash_password()
        .returning(|p| Ok(PasswordHash::new(format!("hash:{}", p.expose()))));
    let mut secrets = MockSecretGenerator::new();
    secrets
        .expect_generate_secret()
        .returning(|| SecretString::from("generated-secret"));
    secrets
        .expect_generate_webhook_secret()
        .returning(|| SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    secrets
        .expect_generate_identifier()
        .returning(|| "generated-id".to_owned());
    secrets
        .expect_digest_secret()
        .returning(|s| SecretDigest::new(format!("digest-of:{s}")));
    secrets
        .expect_verify_secret()
        .returning(|s, d| d.as_str() == format!("digest-of:{s}"));
    let mut cipher = MockSecretCipher::new();
    cipher.expect_encrypt().returning(|p| Ok(p.to_vec()));
    cipher
        .expect_decrypt()
        .returning(|c| Ok(SecretBox::new(c.to_vec().into_boxed_slice())));
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let counter = Arc::new(AtomicU64::new(0));
    let mut ids = MockIdGen::new();
    ids.expect_next_ulid().returning(move || {
        ulid::Ulid::from_parts(1, u128::from(counter.fetch_add(1, Ordering::Relaxed) + 1))
    });
    Ports {
        store: Arc::new(store),
        hasher: Arc::new(hasher),
        secrets: Arc::new(secrets),
        cipher: Arc::new(cipher),
        jwt: Arc::new(jwt),
        clock: Arc::new(clock),
        ids: Arc::new(ids),
    }
}
