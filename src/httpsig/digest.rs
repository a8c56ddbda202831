//! The RFC 3230 `Digest` header, SHA-256 only.
//!
//! http-sig's `HttpDigest` is implemented for `sha2::Sha256`, which this crate
//! does not depend on; OpenSSL already provides SHA-256, so it is used here.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::sha::sha256;

use super::error::VerifyError;

/// The `Digest` header value for `body`: `SHA-256=<base64 of SHA-256(body)>`.
///
/// `body` must be the exact bytes sent. An empty body (GET, as Yolt signs it
/// for BPCE) gives `SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`.
#[must_use]
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(sha256(body)))
}

/// Checks that the `Digest` header value carries a `SHA-256` entry matching
/// `body`.
///
/// Accepts a list (`SHA-512=…, SHA-256=…`); other algorithms are ignored, the
/// algorithm name is case-insensitive, and `SHA-256` must appear exactly once.
/// An empty value (BPCE answers `PUT /consents` with `digest: ""`) is an
/// error; callers that tolerate it must decide so explicitly.
pub fn verify_digest(header_value: &str, body: &[u8]) -> Result<(), VerifyError> {
    let value = header_value.trim();
    if value.is_empty() {
        return Err(VerifyError::DigestMalformed("the header is empty"));
    }
    let mut sha256_value = None;
    let mut others = Vec::new();
    for item in value.split(',') {
        let (algorithm, encoded) =
            item.trim()
                .split_once('=')
                .ok_or(VerifyError::DigestMalformed(
                    "expected `algorithm=base64value` entries",
                ))?;
        let algorithm = algorithm.trim();
        if algorithm.eq_ignore_ascii_case("SHA-256") {
            if sha256_value.is_some() {
                return Err(VerifyError::DigestMalformed(
                    "SHA-256 appears more than once",
                ));
            }
            sha256_value = Some(encoded.trim());
        } else {
            others.push(algorithm);
        }
    }
    let encoded = sha256_value.ok_or_else(|| {
        VerifyError::DigestAlgorithmMissing(if others.is_empty() {
            "nothing".to_owned()
        } else {
            others.join(", ")
        })
    })?;
    let claimed = STANDARD
        .decode(encoded)
        .map_err(|_| VerifyError::DigestMalformed("the SHA-256 value is not valid base64"))?;
    let actual = sha256(body);
    // Constant-time compare: cheap here, and it keeps the check safe if it is
    // ever reused on secret-bearing bodies.
    if claimed.len() == actual.len() && openssl::memcmp::eq(&claimed, &actual) {
        Ok(())
    } else {
        Err(VerifyError::DigestMismatch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Body and digest of the draft-cavage test request.
    const BODY: &[u8] = br#"{"hello": "world"}"#;
    const BODY_DIGEST: &str = "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
    const EMPTY_DIGEST: &str = "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    #[test]
    fn digest_of_known_bodies() {
        assert_eq!(digest_header(BODY), BODY_DIGEST);
        assert_eq!(digest_header(b""), EMPTY_DIGEST);
    }

    #[test]
    fn verify_digest_accepts_matching_and_lists() {
        verify_digest(BODY_DIGEST, BODY).unwrap();
        verify_digest(EMPTY_DIGEST, b"").unwrap();
        verify_digest(
            "SHA-512=abc=, sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            BODY,
        )
        .unwrap();
    }

    #[test]
    fn verify_digest_rejects_mismatch_and_garbage() {
        assert!(matches!(
            verify_digest(BODY_DIGEST, b"{\"hello\":\"world\"}"),
            Err(VerifyError::DigestMismatch)
        ));
        assert!(matches!(
            verify_digest("", BODY),
            Err(VerifyError::DigestMalformed(_))
        ));
        assert!(matches!(
            verify_digest("SHA-256=!!!", BODY),
            Err(VerifyError::DigestMalformed(_))
        ));
        assert!(matches!(
            verify_digest("SHA-256", BODY),
            Err(VerifyError::DigestMalformed(_))
        ));
        let err = verify_digest("MD5=abc=", BODY).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Digest header has no SHA-256 value (found: MD5)"
        );
    }
}
