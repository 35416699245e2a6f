//! Standard Webhooks signatures (standardwebhooks.com): the key is the
//! base64-decoded part of the secret after `whsec_`; the signed content is
//! `"{id}.{timestamp}.{body}"`; the header value is `v1,` followed by the
//! standard base64 of its HMAC-SHA256.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The secret cannot be used as a signing key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The part after `whsec_` is not standard base64 (the message never
    /// holds the secret).
    #[error("the signing secret is not whsec_ followed by base64")]
    NotBase64,
}

/// The `webhook-signature` header value for one message.
///
/// # Errors
/// [`SignatureError::NotBase64`] for a secret that is not `whsec_` (optional,
/// as in the reference libraries) followed by standard base64.
pub fn sign(
    secret: &str,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::NotBase64)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SignatureError::NotBase64)?;
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_published_test_vector_reproduces_exactly() {
        // From the Standard Webhooks reference libraries' tests and README.
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#,
            )
            .unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn our_own_vector_matches_an_independent_computation() {
        // Computed with Python's standard library:
        //   key = base64.b64decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        //   hmac.new(key, b'01JD0000000000000000000000.1767225600.{"type":"user.created"}',
        //            hashlib.sha256).digest() -> base64
        let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let signature = sign(
            secret,
            "01JD0000000000000000000000",
            1_767_225_600,
            br#"{"type":"user.created"}"#,
        )
        .unwrap();
        assert_eq!(signature, EXPECTED_OWN);
        // The prefix is optional, as in the reference libraries.
        assert_eq!(
            sign(
                secret.trim_start_matches("whsec_"),
                "01JD0000000000000000000000",
                1_767_225_600,
                br#"{"type":"user.created"}"#
            )
            .unwrap(),
            signature
        );
    }

    const EXPECTED_OWN: &str = "v1,ByaDxG1AZ8skMYyVteQiRjiqjUVxsLMuMWe+TOm+Dls=";

    #[test]
    fn any_change_of_id_timestamp_or_body_changes_the_signature() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let base = sign(secret, "a", 1, b"{}").unwrap();
        assert_ne!(sign(secret, "b", 1, b"{}").unwrap(), base);
        assert_ne!(sign(secret, "a", 2, b"{}").unwrap(), base);
        assert_ne!(sign(secret, "a", 1, b"{ }").unwrap(), base);
    }

    #[test]
    fn a_secret_that_is_not_base64_is_refused_without_echoing_it() {
        let error = sign("whsec_not*base64!", "a", 1, b"{}").unwrap_err();
        assert_eq!(error, SignatureError::NotBase64);
        assert!(!error.to_string().contains("not*base64"));
    }
}
