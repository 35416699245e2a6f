//! Encryption at rest under the master key: AES-256-GCM with a fresh random
//! 96-bit nonce per message. Sealed data is self-describing:
//!
//! ```text
//! version (1 byte, = 1) || nonce (12 bytes) || ciphertext || tag (16 bytes)
//! ```
//!
//! The version byte leaves room for a later key or algorithm rotation. A
//! random nonce is safe for up to 2^32 messages under one key (NIST SP
//! 800-38D), far beyond the number of private keys and connection secrets a
//! deployment stores. The master key itself never leaves this module; its
//! `Debug` output is redacted.

use aes_gcm::aead::{Aead as _, KeyInit as _};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_ports::crypto::{CryptoError, SecretCipher};
use secrecy::SecretBox;
use secrecy::zeroize::Zeroize as _;

use crate::os_random;

/// Format version written as the first byte of every sealed message.
const VERSION: u8 = 1;
/// AES-GCM nonce length (96 bits).
const NONCE_LEN: usize = 12;
/// AES-GCM tag length (128 bits).
const TAG_LEN: usize = 16;
/// Length of the master key (AES-256).
const MASTER_KEY_LEN: usize = 32;

/// [`SecretCipher`] with AES-256-GCM under the master key.
#[derive(Clone)]
pub struct AesGcmCipher {
    aead: Aes256Gcm,
}

impl std::fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesGcmCipher(<redacted>)")
    }
}

impl AesGcmCipher {
    /// A cipher under `master_key` (see [`parse_master_key`]).
    #[must_use]
    pub fn new(master_key: &[u8; 32]) -> Self {
        let key = Key::<Aes256Gcm>::from(*master_key);
        Self {
            aead: Aes256Gcm::new(&key),
        }
    }
}

impl SecretCipher for AesGcmCipher {
    fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce_bytes = os_random::<NONCE_LEN>();
        let nonce = aes_gcm::Nonce::from(nonce_bytes);
        let sealed = self
            .aead
            .encrypt(&nonce, plaintext)
            .map_err(|_| CryptoError::Internal("AES-GCM encryption failed".to_owned()))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    fn decrypt(&self, ciphertext: &[u8]) -> Result<SecretBox<[u8]>, CryptoError> {
        let (&version, rest) = ciphertext.split_first().ok_or(CryptoError::Decrypt)?;
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Decrypt);
        }
        let (nonce_bytes, sealed) = rest.split_at(NONCE_LEN);
        let nonce_bytes: [u8; NONCE_LEN] =
            nonce_bytes.try_into().map_err(|_| CryptoError::Decrypt)?;
        let nonce = aes_gcm::Nonce::from(nonce_bytes);
        let mut plaintext = self
            .aead
            .decrypt(&nonce, sealed)
            .map_err(|_| CryptoError::Decrypt)?;
        // Copy into an exactly sized box, then wipe the working buffer (its
        // spare capacity still holds the tag and, after a reallocation, the
        // plaintext would otherwise linger in freed memory).
        let secret: Box<[u8]> = Box::from(plaintext.as_slice());
        plaintext.zeroize();
        Ok(SecretBox::new(secret))
    }
}

/// Parses the master key from its configured form: standard base64 (with
/// padding, surrounding whitespace ignored) of exactly 32 bytes.
///
/// # Errors
/// `CryptoError::Key` when the text is not base64 or does not decode to 32
/// bytes; the message never repeats the text.
pub fn parse_master_key(base64_text: &str) -> Result<[u8; 32], CryptoError> {
    let mut bytes = STANDARD.decode(base64_text.trim()).map_err(|_| {
        CryptoError::Key(
            "master key is not valid base64 (standard alphabet, with padding)".to_owned(),
        )
    })?;
    let key: Result<[u8; MASTER_KEY_LEN], _> = bytes.as_slice().try_into();
    let len = bytes.len();
    bytes.zeroize();
    key.map_err(|_| {
        CryptoError::Key(format!(
            "master key must decode to exactly {MASTER_KEY_LEN} bytes, got {len}"
        ))
    })
}

/// A new master key: 32 bytes from the OS CSPRNG, standard base64 (what
/// [`parse_master_key`] reads).
#[must_use]
pub fn generate_master_key() -> String {
    let mut key = os_random::<MASTER_KEY_LEN>();
    let text = STANDARD.encode(key);
    key.zeroize();
    text
}
