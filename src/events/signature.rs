//! Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<webhook-id>.<webhook-timestamp>.<body>`, keyed by the secret's bytes (the base64 after
//! `whsec_`). During a rotation both secrets sign, space-separated, so a receiver holding either
//! verifies.

use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::{ExposeSecret, SecretString};

/// The prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Why a secret cannot sign.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// Not `whsec_` followed by base64.
    #[error("a webhook secret is `whsec_` followed by base64")]
    MalformedSecret,
    /// OpenSSL failed.
    #[error("HMAC-SHA256: {0}")]
    Hmac(#[from] openssl::error::ErrorStack),
}

/// A new secret: 32 random bytes, `whsec_` + base64.
pub fn generate_secret() -> Result<SecretString, SignatureError> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)?;
    let secret = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    );
    bytes.fill(0);
    Ok(SecretString::from(secret))
}

/// `v1,<signature>` of one message under one secret.
pub fn sign(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let encoded = secret
        .expose_secret()
        .strip_prefix(SECRET_PREFIX)
        .ok_or(SignatureError::MalformedSecret)?;
    let key = secrecy::zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::MalformedSecret)?,
    );
    let key = PKey::hmac(&key)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(id.as_bytes())?;
    signer.update(b".")?;
    signer.update(timestamp.to_string().as_bytes())?;
    signer.update(b".")?;
    signer.update(body)?;
    let mac = signer.sign_to_vec()?;
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac)
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The vector of the Standard Webhooks reference libraries.
    #[test]
    fn the_reference_vector_signs_as_published() {
        let secret = SecretString::from("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned());
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            sign(
                &secret,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                body
            )
            .unwrap(),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn generated_secrets_are_distinct_and_sign() {
        let (a, b) = (generate_secret().unwrap(), generate_secret().unwrap());
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(a.expose_secret().starts_with("whsec_"));
        assert_ne!(
            sign(&a, "1", 1, b"{}").unwrap(),
            sign(&b, "1", 1, b"{}").unwrap()
        );
    }

    #[test]
    fn a_secret_without_its_prefix_is_refused() {
        let secret = SecretString::from("C2FVsBQIhrscChlQIMV+b5sSYspob7oD".to_owned());
        assert!(matches!(
            sign(&secret, "1", 1, b"{}"),
            Err(SignatureError::MalformedSecret)
        ));
    }
}
