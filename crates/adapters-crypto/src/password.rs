//! Human passwords, hashed with bcrypt. Hashing and verification cost
//! milliseconds of CPU (a quarter of a second at cost 12), so both run on
//! tokio's blocking pool and never on an async worker. This module never
//! logs or returns a password, and its errors never contain one.

use async_trait::async_trait;
use portcullis_domain::user::{Password, PasswordHash};
use portcullis_ports::crypto::{CryptoError, PasswordHasher};
use secrecy::{ExposeSecret as _, SecretString};

/// [`PasswordHasher`] with bcrypt (`$2b$`), at a fixed cost.
#[derive(Clone, Copy, Debug)]
pub struct BcryptHasher {
    cost: u32,
}

impl BcryptHasher {
    /// A hasher at `cost` (bcrypt's log2 work factor: 12 in production, 4 in
    /// tests). Costs outside bcrypt's 4..=31 make
    /// [`PasswordHasher::hash_password`] fail with `CryptoError::Internal`.
    #[must_use]
    pub fn new(cost: u32) -> Self {
        Self { cost }
    }

    /// The configured cost.
    #[must_use]
    pub fn cost(&self) -> u32 {
        self.cost
    }
}

#[async_trait]
impl PasswordHasher for BcryptHasher {
    async fn hash_password(&self, password: Password) -> Result<PasswordHash, CryptoError> {
        let cost = self.cost;
        // `Password` is at most 72 bytes, all of which bcrypt uses. (bcrypt's
        // `non_truncating_hash` would refuse exactly 72, for want of room for
        // the terminating NUL.)
        let encoded = tokio::task::spawn_blocking(move || bcrypt::hash(password.expose(), cost))
            .await
            .map_err(|err| CryptoError::Internal(format!("bcrypt worker failed: {err}")))?
            .map_err(|err| CryptoError::Internal(format!("bcrypt hashing failed: {err}")))?;
        Ok(PasswordHash::new(encoded))
    }

    async fn verify_password(
        &self,
        password: SecretString,
        hash: PasswordHash,
    ) -> Result<bool, CryptoError> {
        tokio::task::spawn_blocking(move || {
            let attempt = password.expose_secret();
            let matches = bcrypt::verify(attempt, hash.as_str()).map_err(|err| {
                CryptoError::Internal(format!("bcrypt verification failed: {err}"))
            })?;
            // bcrypt reads only the first 72 bytes, and no stored password is
            // longer (the `Password` policy): a longer attempt is wrong even
            // when its first 72 bytes match. bcrypt still runs, so the
            // response time does not depend on the length.
            Ok(matches && attempt.len() <= Password::MAX_BYTES)
        })
        .await
        .map_err(|err| CryptoError::Internal(format!("bcrypt worker failed: {err}")))?
    }
}
