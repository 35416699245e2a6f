use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{HS256, JwsSigner as _, RS256};
use portcullis_adapters_crypto::JoseJwtKeys;
use portcullis_ports::crypto::{
    CryptoError, GeneratedKeyPair, JwtKeys, JwtSigner, JwtVerifier, TokenRejection,
};
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

/// One key pair with its signer and verifier.
struct Fixture {
    keys: JoseJwtKeys,
    pair: GeneratedKeyPair,
    signer: Arc<dyn JwtSigner>,
    verifier: Arc<dyn JwtVerifier>,
}

async fn fixture() -> Fixture {
    let keys = JoseJwtKeys::new();
    let pair = keys.generate_key_pair().await.unwrap();
    let signer = keys
        .signer(&pair.kid, pair.private_pem.expose_secret())
        .unwrap();
    let verifier = keys.verifier(&pair.public_jwk).unwrap();
    Fixture {
        keys,
        pair,
        signer,
        verifier,
    }
}

fn claims() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "iss": "http://staging.localhost:8080",
        "sub": "client-123",
        "aud": "http://staging.localhost:8080/api",
        "client_id": "client-123",
        "scope": "read:users write:users",
        "iat": 1_767_225_600_i64,
        "exp": 1_767_229_200_i64,
        "jti": "01JTESTJTI",
    }) else {
        unreachable!()
    };
    map
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn segment_json(segment: &str) -> Map<String, Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

fn segments(token: &str) -> Vec<&str> {
    token.split('.').collect()
}

/// `header.payload` signed by `sign`, compact form.
fn compact(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// Signs `header.payload` with the fixture's own RSA private key, whatever the header says.
fn rsa_sign(fixture: &Fixture) -> impl Fn(&[u8]) -> Vec<u8> {
    let signer = RS256
        .signer_from_pem(fixture.pair.private_pem.expose_secret())
        .unwrap();
    move |input| signer.sign(input).unwrap()
}

#[tokio::test]
async fn generated_key_pair_has_the_documented_shape() {
    let f = fixture().await;
    let pem = std::str::from_utf8(f.pair.private_pem.expose_secret()).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM");
    let jwk: Map<String, Value> = serde_json::from_str(&f.pair.public_jwk).unwrap();
    let mut members: Vec<&str> = jwk.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["use"], "sig");
    assert_eq!(jwk["kid"], f.pair.kid.as_str());
    assert_eq!(jwk["e"], "AQAB");
    let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "RSA-2048 modulus");
    assert_eq!(f.signer.kid(), f.pair.kid);
}

#[tokio::test]
async fn kid_is_the_rfc_7638_thumbprint_of_the_public_jwk() {
    let f = fixture().await;
    let jwk: Map<String, Value> = serde_json::from_str(&f.pair.public_jwk).unwrap();
    // Required members only, lexicographic order, no whitespace (BTreeMap sorts).
    let required: BTreeMap<&str, &Value> = ["e", "kty", "n"]
        .into_iter()
        .map(|member| (member, &jwk[member]))
        .collect();
    let canonical = serde_json::to_string(&required).unwrap();
    assert!(canonical.starts_with(r#"{"e":"AQAB","kty":"RSA","n":""#));
    let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(f.pair.kid, expected);
}

#[tokio::test]
async fn two_key_pairs_differ() {
    let keys = JoseJwtKeys::new();
    let first = keys.generate_key_pair().await.unwrap();
    let second = keys.generate_key_pair().await.unwrap();
    assert_ne!(first.kid, second.kid);
    assert_ne!(first.public_jwk, second.public_jwk);
}

#[tokio::test]
async fn signed_claims_verify_and_come_back_unchanged() {
    let f = fixture().await;
    let token = f.signer.sign(claims()).await.unwrap();
    assert_eq!(f.verifier.verify(&token).unwrap(), claims());
    assert_eq!(f.keys.token_kid(&token).unwrap(), f.pair.kid);
}

#[tokio::test]
async fn integer_claims_stay_integers_in_the_raw_payload() {
    let f = fixture().await;
    // No claim here holds a dot, so any '.' in the raw payload would be a
    // fractional number.
    let Value::Object(numeric) = json!({
        "sub": "client-123",
        "iat": 1_767_225_600_i64,
        "nbf": 1_767_225_600_i64,
        "exp": 1_767_229_200_i64,
    }) else {
        unreachable!()
    };
    let token = f.signer.sign(numeric.clone()).await.unwrap();
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(segments(&token)[1]).unwrap()).unwrap();
    assert!(!raw.contains('.'), "no fractional numbers: {raw}");
    assert!(raw.contains(r#""iat":1767225600"#), "{raw}");
    assert!(raw.contains(r#""exp":1767229200"#), "{raw}");
    let verified = f.verifier.verify(&token).unwrap();
    assert_eq!(verified, numeric);
    assert!(verified["iat"].is_i64());
    assert!(verified["exp"].is_i64());
}

#[tokio::test]
async fn the_header_names_rs256_at_jwt_and_the_kid() {
    let f = fixture().await;
    let token = f.signer.sign(claims()).await.unwrap();
    let header = segment_json(segments(&token)[0]);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], f.pair.kid.as_str());
    assert_eq!(header.len(), 3, "nothing else: {header:?}");
}

#[tokio::test]
async fn josekit_verifies_our_tokens_from_the_published_jwk() {
    let f = fixture().await;
    let token = f.signer.sign(claims()).await.unwrap();
    // What a third party does: take the JWKS entry, build an RS256 verifier, decode.
    let jwk = Jwk::from_bytes(f.pair.public_jwk.as_bytes()).unwrap();
    let verifier = RS256.verifier_from_jwk(&jwk).unwrap();
    let (payload, header) = josekit::jwt::decode_with_verifier(&token, &verifier).unwrap();
    assert_eq!(payload.claims_set(), &claims());
    assert_eq!(header.token_type(), Some("at+jwt"));
    assert_eq!(header.key_id(), Some(f.pair.kid.as_str()));
}

#[tokio::test]
async fn signing_refuses_ill_typed_registered_claims() {
    let f = fixture().await;
    let mut bad = claims();
    bad.insert("exp".to_owned(), json!("tomorrow"));
    assert!(matches!(
        f.signer.sign(bad).await,
        Err(CryptoError::Internal(_))
    ));
}

#[tokio::test]
async fn alg_none_is_rejected_for_its_header() {
    let f = fixture().await;
    let header = json!({"alg": "none", "typ": "at+jwt", "kid": f.pair.kid});
    let token = compact(&header, &Value::Object(claims()), |_| Vec::new());
    assert!(token.ends_with('.'), "empty signature");
    assert_eq!(f.verifier.verify(&token), Err(TokenRejection::Header));
    assert_eq!(f.keys.token_kid(&token), Err(TokenRejection::Header));
    // The bare form from the brief.
    let bare = compact(&json!({"alg": "none"}), &Value::Object(claims()), |_| {
        Vec::new()
    });
    assert_eq!(f.verifier.verify(&bare), Err(TokenRejection::Header));
    assert_eq!(f.keys.token_kid(&bare), Err(TokenRejection::Header));
}

#[tokio::test]
async fn hs256_keyed_with_the_public_key_is_rejected_for_its_header() {
    let f = fixture().await;
    let public_pem = RS256
        .key_pair_from_pem(f.pair.private_pem.expose_secret())
        .unwrap()
        .to_pem_public_key();
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": f.pair.kid});
    for secret in [public_pem.as_slice(), f.pair.public_jwk.as_bytes()] {
        let hmac = HS256.signer_from_bytes(secret).unwrap();
        let token = compact(&header, &Value::Object(claims()), |input| {
            hmac.sign(input).unwrap()
        });
        assert_eq!(f.verifier.verify(&token), Err(TokenRejection::Header));
        assert_eq!(f.keys.token_kid(&token), Err(TokenRejection::Header));
    }
}

#[tokio::test]
async fn any_alg_but_exactly_rs256_is_rejected_even_with_a_valid_rsa_signature() {
    let f = fixture().await;
    let sign = rsa_sign(&f);
    for alg in [
        json!("rs256"),
        json!("RS512"),
        json!("PS256"),
        json!(null),
        json!(["RS256"]),
    ] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": f.pair.kid});
        let token = compact(&header, &Value::Object(claims()), &sign);
        assert_eq!(
            f.verifier.verify(&token),
            Err(TokenRejection::Header),
            "{alg}"
        );
        assert_eq!(
            f.keys.token_kid(&token),
            Err(TokenRejection::Header),
            "{alg}"
        );
    }
    let no_alg = compact(
        &json!({"typ": "at+jwt", "kid": f.pair.kid}),
        &Value::Object(claims()),
        &sign,
    );
    assert_eq!(f.verifier.verify(&no_alg), Err(TokenRejection::Header));
}

#[tokio::test]
async fn a_crit_header_is_rejected() {
    let f = fixture().await;
    let header =
        json!({"alg": "RS256", "typ": "at+jwt", "kid": f.pair.kid, "crit": ["b64"], "b64": false});
    let token = compact(&header, &Value::Object(claims()), rsa_sign(&f));
    assert_eq!(f.verifier.verify(&token), Err(TokenRejection::Header));
}

#[tokio::test]
async fn a_hand_built_rs256_token_verifies() {
    // Guards the attack tests above: the same construction with a correct
    // header is accepted, so their rejections come from the header.
    let f = fixture().await;
    let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": f.pair.kid});
    let token = compact(&header, &Value::Object(claims()), rsa_sign(&f));
    assert_eq!(f.verifier.verify(&token).unwrap(), claims());
}

#[tokio::test]
async fn a_token_signed_by_another_key_with_the_same_kid_fails_its_signature() {
    let f = fixture().await;
    let impostor_pair = f.keys.generate_key_pair().await.unwrap();
    let impostor = f
        .keys
        .signer(&f.pair.kid, impostor_pair.private_pem.expose_secret())
        .unwrap();
    let token = impostor.sign(claims()).await.unwrap();
    assert_eq!(f.keys.token_kid(&token).unwrap(), f.pair.kid);
    assert_eq!(f.verifier.verify(&token), Err(TokenRejection::Signature));
}

#[tokio::test]
async fn a_tampered_payload_fails_its_signature() {
    let f = fixture().await;
    let token = f.signer.sign(claims()).await.unwrap();
    let parts = segments(&token);
    let mut forged = claims();
    forged.insert("scope".to_owned(), json!("admin"));
    let forged_payload = b64(Value::Object(forged).to_string().as_bytes());
    let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    assert_eq!(f.verifier.verify(&tampered), Err(TokenRejection::Signature));
    // A swapped signature and a stripped one fail the same way.
    let other = f.signer.sign(Map::new()).await.unwrap();
    let swapped = format!("{}.{}.{}", parts[0], parts[1], segments(&other)[2]);
    assert_eq!(f.verifier.verify(&swapped), Err(TokenRejection::Signature));
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    assert_eq!(f.verifier.verify(&stripped), Err(TokenRejection::Signature));
}

#[tokio::test]
async fn garbage_is_malformed() {
    let f = fixture().await;
    let token = f.signer.sign(claims()).await.unwrap();
    let not_json = b64(b"not json");
    let array = b64(b"[\"RS256\"]");
    let padded = format!("{}=", segments(&token)[0]);
    let garbage = [
        String::new(),
        "garbage".to_owned(),
        "a.b".to_owned(),
        "a.b.c".to_owned(),
        "a.b.c.d".to_owned(),
        "!!!.@@@.###".to_owned(),
        format!("{token}.extra"),
        format!("{not_json}.{not_json}.{not_json}"),
        format!("{array}.e30.c2ln"),
        format!("{padded}.e30.c2ln"),
        format!(" {token}"),
    ];
    for input in &garbage {
        assert_eq!(
            f.verifier.verify(input),
            Err(TokenRejection::Malformed),
            "{input:?}"
        );
        assert_eq!(
            f.keys.token_kid(input),
            Err(TokenRejection::Malformed),
            "{input:?}"
        );
    }
}

#[tokio::test]
async fn token_kid_requires_typ_at_jwt() {
    let f = fixture().await;
    let sign = rsa_sign(&f);
    for typ in [json!("JWT"), json!("at+jwt2"), json!(null), json!(1)] {
        let header = json!({"alg": "RS256", "typ": typ, "kid": f.pair.kid});
        let token = compact(&header, &Value::Object(claims()), &sign);
        assert_eq!(
            f.keys.token_kid(&token),
            Err(TokenRejection::Header),
            "{typ}"
        );
    }
    let untyped = compact(
        &json!({"alg": "RS256", "kid": f.pair.kid}),
        &Value::Object(claims()),
        &sign,
    );
    assert_eq!(f.keys.token_kid(&untyped), Err(TokenRejection::Header));
    for typ in ["AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
        let header = json!({"alg": "RS256", "typ": typ, "kid": f.pair.kid});
        let token = compact(&header, &Value::Object(claims()), &sign);
        assert_eq!(f.keys.token_kid(&token).unwrap(), f.pair.kid, "{typ}");
    }
}

#[tokio::test]
async fn token_kid_without_a_kid_is_an_unknown_key() {
    let f = fixture().await;
    let sign = rsa_sign(&f);
    for header in [
        json!({"alg": "RS256", "typ": "at+jwt"}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": ""}),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": 7}),
    ] {
        let token = compact(&header, &Value::Object(claims()), &sign);
        assert_eq!(
            f.keys.token_kid(&token),
            Err(TokenRejection::UnknownKey),
            "{header}"
        );
    }
}

#[tokio::test]
async fn unusable_key_material_is_a_key_error() {
    let f = fixture().await;
    let keys = &f.keys;
    assert!(matches!(
        keys.signer("k", b"not a pem"),
        Err(CryptoError::Key(_))
    ));
    let public_pem = RS256
        .key_pair_from_pem(f.pair.private_pem.expose_secret())
        .unwrap()
        .to_pem_public_key();
    assert!(matches!(
        keys.signer("k", &public_pem),
        Err(CryptoError::Key(_))
    ));

    let jwk: Map<String, Value> = serde_json::from_str(&f.pair.public_jwk).unwrap();
    let with = |member: &str, value: Value| {
        let mut changed = jwk.clone();
        changed.insert(member.to_owned(), value);
        Value::Object(changed).to_string()
    };
    let private_jwk = RS256
        .key_pair_from_pem(f.pair.private_pem.expose_secret())
        .unwrap()
        .to_jwk_private_key()
        .to_string();
    for bad in [
        "not json".to_owned(),
        "{}".to_owned(),
        with("kty", json!("oct")),
        with("alg", json!("HS256")),
        with("use", json!("enc")),
        with("n", json!("AQAB")),
        private_jwk,
    ] {
        assert!(
            matches!(keys.verifier(&bad), Err(CryptoError::Key(_))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn signers_and_verifiers_do_not_print_key_material() {
    let f = fixture().await;
    let signer = format!("{:?}", f.signer);
    let verifier = format!("{:?}", f.verifier);
    assert!(signer.contains(&f.pair.kid), "{signer}");
    assert!(
        !signer.contains("PRIVATE") && signer.len() < 200,
        "{signer}"
    );
    assert!(verifier.len() < 200, "{verifier}");
}
