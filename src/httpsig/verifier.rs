//! Verifying a `Signature` header (used by the sandbox bank, and for bank
//! response signatures).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http_sig::{HttpSignatureVerify, RsaSha256Verify};
use openssl::pkey::{Id, PKeyRef, Public};
use openssl::x509::X509Ref;

use super::error::VerifyError;
use super::headers::HeaderSource;
use super::params::{Algorithm, SignatureParams};
use super::signing_string::build;

/// An RSA public key ready to verify `rsa-sha256` signatures, converted once
/// into http-sig's [`RsaSha256Verify`].
#[derive(Debug)]
pub struct VerifyingKey {
    key: RsaSha256Verify,
    /// Modulus length in bytes: every valid signature has exactly this length.
    signature_len: usize,
}

impl VerifyingKey {
    /// Wraps an RSA public key.
    pub fn from_public_key(public_key: &PKeyRef<Public>) -> Result<Self, VerifyError> {
        if public_key.id() != Id::RSA {
            return Err(VerifyError::InvalidKey(
                "it is not an RSA key (rsa-sha256 needs RSA PKCS#1 v1.5)".to_owned(),
            ));
        }
        // SubjectPublicKeyInfo DER, which is what http-sig's `new_der` reads.
        let der = public_key
            .public_key_to_der()
            .map_err(|e| VerifyError::InvalidKey(e.to_string()))?;
        let key =
            RsaSha256Verify::new_der(&der).map_err(|e| VerifyError::InvalidKey(e.to_string()))?;
        Ok(Self {
            key,
            signature_len: public_key.size(),
        })
    }

    /// Wraps the public key of a (QSEAL) certificate.
    pub fn from_certificate(cert: &X509Ref) -> Result<Self, VerifyError> {
        let public_key = cert
            .public_key()
            .map_err(|e| VerifyError::InvalidKey(e.to_string()))?;
        Self::from_public_key(&public_key)
    }
}

/// Verifies `params` (from [`super::parse_signature_header`]) against a
/// request: rebuilds the signing string from `method`, `path_and_query` (path
/// with query string, as received) and `headers`, then checks the signature.
///
/// The signed header list defaults to `date` when absent (draft-cavage-10).
/// A listed header missing from the request fails with
/// [`VerifyError::MissingHeader`]. This checks the signature only: which
/// headers must be covered (see [`SignatureParams::signs`]), `Date`
/// freshness, the `Digest` against the body ([`super::verify_digest`]) and
/// mapping keyId to key are the caller's policy.
pub fn verify<H>(
    params: &SignatureParams,
    method: &str,
    path_and_query: &str,
    headers: &H,
    public_key: &VerifyingKey,
) -> Result<(), VerifyError>
where
    H: HeaderSource + ?Sized,
{
    // Exhaustive on purpose: adding an algorithm must revisit this function.
    match params.algorithm {
        Algorithm::RsaSha256 => {}
    }
    let signing_string = build(method, path_and_query, headers, params.signed_headers())?;
    let raw = STANDARD
        .decode(&params.signature)
        .map_err(|_| VerifyError::SignatureEncoding)?;
    // Checked here because http-sig's verifier only answers true/false (and
    // prints OpenSSL errors to stderr), which would hide a wrong-key mix-up.
    if raw.len() != public_key.signature_len {
        return Err(VerifyError::SignatureLength {
            expected: public_key.signature_len,
            actual: raw.len(),
        });
    }
    if public_key
        .key
        .http_verify(&signing_string, &params.signature)
    {
        Ok(())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}
