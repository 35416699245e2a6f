//! Cryptography ports: password hashing, generated secrets, encryption at
//! rest and JWTs. Slow work (bcrypt, RSA key generation and signing) is
//! behind `async` methods whose adapters run it off the async workers.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_domain::oauth::SecretDigest;
use portcullis_domain::user::{Password, PasswordHash};
use secrecy::{SecretBox, SecretString};
use serde_json::{Map, Value};

/// A cryptographic operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Key material could not be parsed or generated.
    #[error("key material error: {0}")]
    Key(String),
    /// Ciphertext could not be decrypted (wrong master key or tampering).
    #[error("decryption failed")]
    Decrypt,
    /// Anything else (a worker thread failed, a library error).
    #[error("crypto failure: {0}")]
    Internal(String),
}

/// Hashes human passwords (bcrypt).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a password.
    ///
    /// # Errors
    /// `CryptoError::Internal` if hashing fails.
    async fn hash_password(&self, password: Password) -> Result<PasswordHash, CryptoError>;
    /// Checks a password against a hash in constant time.
    ///
    /// # Errors
    /// `CryptoError::Internal` if the hash is malformed.
    async fn verify_password(
        &self,
        password: SecretString,
        hash: PasswordHash,
    ) -> Result<bool, CryptoError>;
}

/// Generates high-entropy secrets and the digests they are stored as.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SecretGenerator: Send + Sync + 'static {
    /// A new secret of at least 256 random bits, URL-safe text.
    fn generate_secret(&self) -> SecretString;
    /// A new webhook signing secret in the Standard Webhooks form:
    /// `whsec_` followed by standard base64 (with padding) of 32 random bytes.
    fn generate_webhook_secret(&self) -> SecretString;
    /// A new public identifier (e.g. a `client_id`): random, URL-safe, not secret.
    fn generate_identifier(&self) -> String;
    /// The SHA-256 digest a secret is stored as.
    fn digest_secret(&self, secret: &str) -> SecretDigest;
    /// Whether `secret` has `digest`, compared in constant time.
    fn verify_secret(&self, secret: &str, digest: &SecretDigest) -> bool;
}

/// Encrypts data at rest with the master key (AES-256-GCM).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait SecretCipher: Send + Sync + 'static {
    /// Encrypts `plaintext`; the output carries its own nonce.
    ///
    /// # Errors
    /// `CryptoError::Internal` on failure.
    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError>;
    /// Decrypts what [`SecretCipher::encrypt`] produced.
    ///
    /// # Errors
    /// `CryptoError::Decrypt` for a wrong key or tampered data.
    fn decrypt(&self, ciphertext: &[u8]) -> Result<SecretBox<[u8]>, CryptoError>;
}

/// A fresh RS256 key pair.
#[derive(Debug)]
pub struct GeneratedKeyPair {
    /// Key id (the RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// The private key, PKCS#8 PEM.
    pub private_pem: SecretBox<[u8]>,
    /// The public key as a JWK (JSON text with `kid`, `kty`, `alg`, `use`, `n`, `e`).
    pub public_jwk: String,
}

/// Why a bearer token is refused. Every variant is a `401` to the caller; the
/// variants exist for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a compact JWS.
    #[error("malformed token")]
    Malformed,
    /// `alg` other than RS256, or `typ` other than `at+jwt`.
    #[error("unacceptable header")]
    Header,
    /// No active key of this environment has the token's `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// The signature does not verify.
    #[error("bad signature")]
    Signature,
    /// A claim is missing or wrong (`iss`, `aud`, `exp`, ...).
    #[error("invalid claim: {0}")]
    Claim(&'static str),
    /// An opaque token that is unknown, expired or revoked.
    #[error("unknown, expired or revoked opaque token")]
    Inactive,
    /// The token's client, or its grant for the token's audience, no longer
    /// exists.
    #[error("the token's client or its grant no longer exists")]
    Withdrawn,
}

/// Signs JWTs with one private key.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JwtSigner: Send + Sync + std::fmt::Debug + 'static {
    /// The key id written in the header.
    fn kid(&self) -> &str;
    /// Signs `claims` as an RS256 JWT with `typ: at+jwt` and this key's `kid`.
    ///
    /// # Errors
    /// `CryptoError::Internal` if signing fails.
    async fn sign(&self, claims: Map<String, Value>) -> Result<String, CryptoError>;
}

/// Verifies JWT signatures with one public key.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait JwtVerifier: Send + Sync + std::fmt::Debug + 'static {
    /// Verifies the signature (RS256 only) and returns the claims unchecked.
    ///
    /// # Errors
    /// `TokenRejection::Header` or `TokenRejection::Signature`.
    fn verify(&self, token: &str) -> Result<Map<String, Value>, TokenRejection>;
}

/// Creates and loads JWT keys.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JwtKeys: Send + Sync + 'static {
    /// Generates an RSA-2048 key pair for RS256.
    ///
    /// # Errors
    /// `CryptoError::Key` if generation fails.
    async fn generate_key_pair(&self) -> Result<GeneratedKeyPair, CryptoError>;
    /// Parses a private key once into a signer.
    ///
    /// # Errors
    /// `CryptoError::Key` for unparsable key material.
    fn signer(&self, kid: &str, private_pem: &[u8]) -> Result<Arc<dyn JwtSigner>, CryptoError>;
    /// Parses a public JWK once into a verifier.
    ///
    /// # Errors
    /// `CryptoError::Key` for an unparsable JWK.
    fn verifier(&self, public_jwk: &str) -> Result<Arc<dyn JwtVerifier>, CryptoError>;
    /// Reads a token's header without verifying it: `alg` must be RS256 and
    /// `typ` `at+jwt`; returns the `kid`.
    ///
    /// # Errors
    /// `TokenRejection::Malformed`, `TokenRejection::Header`, or
    /// `TokenRejection::UnknownKey` when there is no `kid`.
    fn token_kid(&self, token: &str) -> Result<String, TokenRejection>;
}
