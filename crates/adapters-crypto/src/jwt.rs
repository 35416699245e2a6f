//! RS256 JWT access tokens (RFC 9068) with josekit over OpenSSL: key
//! generation, signing and verification. No other crate sees josekit.
//!
//! Keys are parsed once, into a signer or a verifier that callers cache;
//! signing (about 0.25 ms of CPU) runs on tokio's blocking pool, verification
//! (tens of microseconds) inline. Verification accepts RS256 and nothing
//! else, decided from the header before any cryptography runs, so `none`,
//! HS256 keyed with the public key and other algorithm-confusion tricks never
//! reach a verifier. Claims are neither read nor checked here (`exp`, `iss`,
//! `aud` are the caller's); they pass through as JSON, integers staying
//! integers.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::{Jwk, KeyPair as _};
use josekit::jws::alg::rsassa::{RsassaJwsSigner, RsassaJwsVerifier};
use josekit::jws::{JwsHeader, JwsVerifier as _, RS256};
use josekit::jwt::JwtPayload;
use portcullis_ports::crypto::{
    CryptoError, GeneratedKeyPair, JwtKeys, JwtSigner, JwtVerifier, TokenRejection,
};
use secrecy::SecretBox;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The only signature algorithm we issue or accept.
const ALG: &str = "RS256";
/// The `typ` we write (RFC 9068 §2.1).
const TYP: &str = "at+jwt";
/// The long form of [`TYP`] that RFC 9068 §4 also accepts.
const TYP_LONG: &str = "application/at+jwt";
/// RSA modulus size of generated keys.
const RSA_BITS: u32 = 2048;

/// [`JwtKeys`] with josekit: RSA-2048 key pairs, RS256 signers and verifiers.
#[derive(Clone, Copy, Debug, Default)]
pub struct JoseJwtKeys;

impl JoseJwtKeys {
    /// The key factory (it has no state).
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl JwtKeys for JoseJwtKeys {
    async fn generate_key_pair(&self) -> Result<GeneratedKeyPair, CryptoError> {
        tokio::task::spawn_blocking(generate_key_pair_blocking)
            .await
            .map_err(|err| CryptoError::Internal(format!("key generation worker failed: {err}")))?
    }

    fn signer(&self, kid: &str, private_pem: &[u8]) -> Result<Arc<dyn JwtSigner>, CryptoError> {
        let signer = RS256
            .signer_from_pem(private_pem)
            .map_err(|err| CryptoError::Key(format!("unusable RS256 private key: {err}")))?;
        Ok(Arc::new(JoseJwtSigner {
            kid: Arc::from(kid),
            signer: Arc::new(signer),
        }))
    }

    fn verifier(&self, public_jwk: &str) -> Result<Arc<dyn JwtVerifier>, CryptoError> {
        let jwk = Jwk::from_bytes(public_jwk.as_bytes())
            .map_err(|err| CryptoError::Key(format!("unparsable public JWK: {err}")))?;
        // A verifier must only ever hold public material.
        if ["d", "p", "q", "dp", "dq", "qi"]
            .iter()
            .any(|member| jwk.parameter(member).is_some())
        {
            return Err(CryptoError::Key(
                "the public JWK carries private key members".to_owned(),
            ));
        }
        let kid = jwk.key_id().map(str::to_owned);
        // Rejects a `kty` other than RSA, `use` other than `sig`, `alg` other
        // than RS256 and moduli under 2048 bits.
        let verifier = RS256
            .verifier_from_jwk(&jwk)
            .map_err(|err| CryptoError::Key(format!("unusable RS256 public JWK: {err}")))?;
        Ok(Arc::new(JoseJwtVerifier { kid, verifier }))
    }

    fn token_kid(&self, token: &str) -> Result<String, TokenRejection> {
        let parts = CompactJws::split(token)?;
        let header = parts.header()?;
        check_alg(&header)?;
        match header.get("typ") {
            Some(Value::String(typ))
                if typ.eq_ignore_ascii_case(TYP) || typ.eq_ignore_ascii_case(TYP_LONG) => {}
            _ => return Err(TokenRejection::Header),
        }
        match header.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => Ok(kid.clone()),
            _ => Err(TokenRejection::UnknownKey),
        }
    }
}

/// Generates an RSA-2048 key pair and describes it (CPU-heavy: tens to
/// hundreds of milliseconds).
fn generate_key_pair_blocking() -> Result<GeneratedKeyPair, CryptoError> {
    let key_pair = RS256
        .generate_key_pair(RSA_BITS)
        .map_err(|err| CryptoError::Key(format!("RSA key generation failed: {err}")))?;
    let public = key_pair.to_jwk_public_key();
    let (Some(Value::String(n)), Some(Value::String(e))) =
        (public.parameter("n"), public.parameter("e"))
    else {
        return Err(CryptoError::Key(
            "generated RSA key has no modulus or exponent".to_owned(),
        ));
    };
    let kid = rsa_thumbprint(n, e);
    // Exactly the members the JWKS publishes, in a stable order.
    let mut jwk = Map::new();
    jwk.insert("kty".to_owned(), Value::from("RSA"));
    jwk.insert("kid".to_owned(), Value::from(kid.as_str()));
    jwk.insert("alg".to_owned(), Value::from(ALG));
    jwk.insert("use".to_owned(), Value::from("sig"));
    jwk.insert("n".to_owned(), Value::from(n.as_str()));
    jwk.insert("e".to_owned(), Value::from(e.as_str()));
    let public_jwk = Value::Object(jwk).to_string();
    // PKCS#8 ("BEGIN PRIVATE KEY").
    let private_pem = SecretBox::new(key_pair.to_pem_private_key().into_boxed_slice());
    Ok(GeneratedKeyPair {
        kid,
        private_pem,
        public_jwk,
    })
}

/// The RFC 7638 thumbprint of an RSA public key given by its base64url `n`
/// and `e`: SHA-256 over `{"e":..,"kty":"RSA","n":..}` (members in
/// lexicographic order, no whitespace), base64url without padding.
fn rsa_thumbprint(n: &str, e: &str) -> String {
    // `n` and `e` are base64url, so they need no JSON escaping.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// An RS256 signer for one key, parsed once; cheap to clone and share.
#[derive(Clone)]
struct JoseJwtSigner {
    kid: Arc<str>,
    signer: Arc<RsassaJwsSigner>,
}

impl std::fmt::Debug for JoseJwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoseJwtSigner")
            .field("alg", &ALG)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl JwtSigner for JoseJwtSigner {
    fn kid(&self) -> &str {
        &self.kid
    }

    async fn sign(&self, claims: Map<String, Value>) -> Result<String, CryptoError> {
        let kid = Arc::clone(&self.kid);
        let signer = Arc::clone(&self.signer);
        tokio::task::spawn_blocking(move || {
            // `from_map` keeps the claims exactly as given (integer `iat` and
            // `exp` stay integers; josekit's `set_issued_at` would write
            // fractional seconds) and checks the registered claims' types.
            let payload = JwtPayload::from_map(claims)
                .map_err(|err| CryptoError::Internal(format!("invalid JWT claims: {err}")))?;
            let mut header = JwsHeader::new();
            header.set_token_type(TYP);
            header.set_key_id(kid.as_ref());
            // josekit writes `alg` from the signer.
            josekit::jwt::encode_with_signer(&payload, &header, signer.as_ref())
                .map_err(|err| CryptoError::Internal(format!("RS256 signing failed: {err}")))
        })
        .await
        .map_err(|err| CryptoError::Internal(format!("signing worker failed: {err}")))?
    }
}

/// An RS256 verifier for one public key, parsed once.
struct JoseJwtVerifier {
    kid: Option<String>,
    verifier: RsassaJwsVerifier,
}

impl std::fmt::Debug for JoseJwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoseJwtVerifier")
            .field("alg", &ALG)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl JwtVerifier for JoseJwtVerifier {
    fn verify(&self, token: &str) -> Result<Map<String, Value>, TokenRejection> {
        let parts = CompactJws::split(token)?;
        let header = parts.header()?;
        // Decided from the header alone: the only algorithm ever tried is
        // RS256 with this RSA key.
        check_alg(&header)?;
        // No extension is understood, so any `crit` makes the token
        // unacceptable (RFC 7515 §4.1.11); this also excludes `b64: false`.
        if header.contains_key("crit") {
            return Err(TokenRejection::Header);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(parts.signature)
            .map_err(|_| TokenRejection::Malformed)?;
        self.verifier
            .verify(parts.signing_input.as_bytes(), &signature)
            .map_err(|_| TokenRejection::Signature)?;
        let payload = URL_SAFE_NO_PAD
            .decode(parts.payload)
            .map_err(|_| TokenRejection::Malformed)?;
        serde_json::from_slice::<Map<String, Value>>(&payload)
            .map_err(|_| TokenRejection::Malformed)
    }
}

/// Requires `alg` to be exactly RS256 (algorithm names are case-sensitive,
/// RFC 7515 §4.1.1).
fn check_alg(header: &Map<String, Value>) -> Result<(), TokenRejection> {
    match header.get("alg") {
        Some(Value::String(alg)) if alg == ALG => Ok(()),
        _ => Err(TokenRejection::Header),
    }
}

/// The three segments of a compact JWS, borrowed from the token.
struct CompactJws<'t> {
    header: &'t str,
    payload: &'t str,
    signature: &'t str,
    /// `header.payload`, what the signature covers.
    signing_input: &'t str,
}

impl<'t> CompactJws<'t> {
    /// Splits `token` into exactly three segments of base64url characters
    /// (the signature may be empty, as in an unsecured JWS, so that such a
    /// token is refused for its header rather than its shape).
    fn split(token: &'t str) -> Result<Self, TokenRejection> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenRejection::Malformed)?;
        let (header, payload) = signing_input
            .split_once('.')
            .ok_or(TokenRejection::Malformed)?;
        let is_base64url = |segment: &str| {
            segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if header.is_empty()
            || payload.is_empty()
            || !is_base64url(header)
            || !is_base64url(payload)
            || !is_base64url(signature)
        {
            return Err(TokenRejection::Malformed);
        }
        Ok(Self {
            header,
            payload,
            signature,
            signing_input,
        })
    }

    /// Decodes the JOSE header, which must be a JSON object.
    fn header(&self) -> Result<Map<String, Value>, TokenRejection> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.header)
            .map_err(|_| TokenRejection::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| TokenRejection::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::{CompactJws, rsa_thumbprint};
    use portcullis_ports::crypto::TokenRejection;

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            rsa_thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn split_requires_three_base64url_segments() {
        for bad in [
            "", ".", "..", "a.b", "a.b.c.d", ".b.c", "a..c", "a+b.c.d", "a.b.c d",
        ] {
            assert_eq!(
                CompactJws::split(bad).err(),
                Some(TokenRejection::Malformed),
                "{bad:?}"
            );
        }
        let parts = CompactJws::split("aGk.cGF5.c2ln").ok();
        assert!(parts.is_some_and(|p| p.header == "aGk"
            && p.payload == "cGF5"
            && p.signature == "c2ln"
            && p.signing_input == "aGk.cGF5"));
        assert!(CompactJws::split("aGk.cGF5.").is_ok());
    }
}
