use portcullis_adapters_crypto::BcryptHasher;
use portcullis_domain::user::{Password, PasswordHash};
use portcullis_ports::crypto::{CryptoError, PasswordHasher};
use secrecy::SecretString;

fn password(text: &str) -> Password {
    Password::parse(text.to_owned(), None).unwrap()
}

#[tokio::test]
async fn hash_verifies_the_right_password_and_not_a_wrong_one() {
    let hasher = BcryptHasher::new(4);
    let hash = hasher
        .hash_password(password("correct horse battery"))
        .await
        .unwrap();
    assert!(hash.as_str().starts_with("$2b$04$"), "bcrypt at cost 4");
    assert!(!hash.as_str().contains("correct horse battery"));
    assert!(
        hasher
            .verify_password(SecretString::from("correct horse battery"), hash.clone())
            .await
            .unwrap()
    );
    assert!(
        !hasher
            .verify_password(SecretString::from("correct horse batterz"), hash)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn the_same_password_hashes_differently_each_time() {
    let hasher = BcryptHasher::new(4);
    let first = hasher.hash_password(password("s3cret-pass")).await.unwrap();
    let second = hasher.hash_password(password("s3cret-pass")).await.unwrap();
    assert_ne!(first.as_str(), second.as_str(), "a fresh salt per hash");
}

#[tokio::test]
async fn an_attempt_longer_than_72_bytes_never_matches() {
    let hasher = BcryptHasher::new(4);
    let max = "x".repeat(72);
    let hash = hasher.hash_password(password(&max)).await.unwrap();
    assert!(
        hasher
            .verify_password(SecretString::from(max.clone()), hash.clone())
            .await
            .unwrap()
    );
    // Plain bcrypt would truncate this to the 72 bytes above and accept it.
    assert!(
        !hasher
            .verify_password(SecretString::from(format!("{max}-suffix")), hash)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_malformed_hash_is_an_internal_error() {
    let hasher = BcryptHasher::new(4);
    let outcome = hasher
        .verify_password(
            SecretString::from("whatever1"),
            PasswordHash::new("not a bcrypt hash".to_owned()),
        )
        .await;
    assert!(matches!(outcome, Err(CryptoError::Internal(_))));
}

#[tokio::test]
async fn an_invalid_cost_is_an_internal_error() {
    let outcome = BcryptHasher::new(3)
        .hash_password(password("long enough"))
        .await;
    assert!(matches!(outcome, Err(CryptoError::Internal(_))));
}
