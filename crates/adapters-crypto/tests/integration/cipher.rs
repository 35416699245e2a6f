use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portcullis_adapters_crypto::{AesGcmCipher, generate_master_key, parse_master_key};
use portcullis_ports::crypto::{CryptoError, SecretCipher};
use secrecy::ExposeSecret;

fn cipher() -> AesGcmCipher {
    AesGcmCipher::new(&parse_master_key(&generate_master_key()).unwrap())
}

#[test]
fn round_trip_returns_the_plaintext() {
    let cipher = cipher();
    for plaintext in [&b""[..], b"x", b"-----BEGIN PRIVATE KEY-----\n..."] {
        let sealed = cipher.encrypt(plaintext).unwrap();
        assert_eq!(sealed.len(), 1 + 12 + plaintext.len() + 16);
        assert_eq!(sealed[0], 1, "version byte");
        assert_eq!(cipher.decrypt(&sealed).unwrap().expose_secret(), plaintext);
    }
}

#[test]
fn the_ciphertext_does_not_contain_the_plaintext() {
    let plaintext = b"a very recognisable plaintext";
    let sealed = cipher().encrypt(plaintext).unwrap();
    assert!(!sealed.windows(plaintext.len()).any(|w| w == plaintext));
}

#[test]
fn nonces_differ_between_two_encryptions_of_the_same_plaintext() {
    let cipher = cipher();
    let first = cipher.encrypt(b"same").unwrap();
    let second = cipher.encrypt(b"same").unwrap();
    assert_ne!(first[1..13], second[1..13], "fresh nonce");
    assert_ne!(first, second);
}

#[test]
fn a_different_key_fails_with_decrypt() {
    let sealed = cipher().encrypt(b"secret").unwrap();
    assert!(matches!(
        cipher().decrypt(&sealed),
        Err(CryptoError::Decrypt)
    ));
}

#[test]
fn any_flipped_byte_fails_with_decrypt() {
    let cipher = cipher();
    let sealed = cipher.encrypt(b"tamper with me").unwrap();
    for index in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert!(
            matches!(cipher.decrypt(&tampered), Err(CryptoError::Decrypt)),
            "byte {index}"
        );
    }
}

#[test]
fn truncated_or_empty_input_fails_with_decrypt() {
    let cipher = cipher();
    let sealed = cipher.encrypt(b"").unwrap();
    for len in 0..sealed.len() {
        assert!(
            matches!(cipher.decrypt(&sealed[..len]), Err(CryptoError::Decrypt)),
            "length {len}"
        );
    }
}

#[test]
fn generated_master_keys_are_32_bytes_of_standard_base64_and_distinct() {
    let first = generate_master_key();
    let second = generate_master_key();
    assert_ne!(first, second);
    assert_eq!(STANDARD.decode(&first).unwrap().len(), 32);
    assert_eq!(parse_master_key(&first).unwrap().len(), 32);
}

#[test]
fn parse_master_key_ignores_surrounding_whitespace() {
    let text = generate_master_key();
    assert_eq!(
        parse_master_key(&format!("  {text}\n")).unwrap(),
        parse_master_key(&text).unwrap()
    );
}

#[test]
fn bad_master_keys_are_refused_with_a_clear_message() {
    for len in [0_usize, 16, 31, 33, 64] {
        let text = STANDARD.encode(vec![7_u8; len]);
        match parse_master_key(&text) {
            Err(CryptoError::Key(message)) => {
                assert!(message.contains("32 bytes"), "{message}");
                assert!(message.contains(&format!("got {len}")), "{message}");
            }
            other => panic!("length {len}: {other:?}"),
        }
    }
    for text in ["not base64!", "@@@@", "AAAA-_-_AAAA"] {
        match parse_master_key(text) {
            Err(CryptoError::Key(message)) => {
                assert!(message.contains("base64"), "{message}");
                assert!(!message.contains(text), "the key text is never echoed");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}
