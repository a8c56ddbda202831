//! Signing outbound requests with the QSEAL key.

use http_sig::{HttpSignatureSign, RsaSha256Sign};
use openssl::pkey::{Id, PKeyRef, Private};

use super::error::SignError;
use super::headers::HeaderSource;
use super::key_id::check_key_id;
use super::params::{Algorithm, SignatureParams, DEFAULT_SIGNED_HEADERS};
use super::signing_string::build;

/// Below this, RSA keys are too weak to be a QSEAL, and http-sig's signer
/// (which panics on OpenSSL errors) could fail on very small moduli. 1024
/// still admits the draft-cavage test key.
const MIN_RSA_BITS: u32 = 1024;

/// Signs requests with a QSEAL private key under a fixed keyId.
///
/// The key is converted once, at construction, into http-sig's
/// [`RsaSha256Sign`], so [`Signer::sign`] costs one RSA operation plus a few
/// small allocations.
#[derive(Debug)]
pub struct Signer {
    // RsaSha256Sign's Debug prints only its type name, never key material.
    key: RsaSha256Sign,
    key_id: String,
}

impl Signer {
    /// Wraps an RSA private key (at least 1024 bits) and the keyId to send,
    /// usually built by [`super::key_id()`].
    pub fn new(
        private_key: &PKeyRef<Private>,
        key_id: impl Into<String>,
    ) -> Result<Self, SignError> {
        let key_id = key_id.into();
        check_key_id(&key_id)?;
        if private_key.id() != Id::RSA {
            return Err(SignError::InvalidKey(
                "it is not an RSA key (rsa-sha256 needs RSA PKCS#1 v1.5)".to_owned(),
            ));
        }
        let bits = private_key.bits();
        if bits < MIN_RSA_BITS {
            return Err(SignError::InvalidKey(format!(
                "a {bits}-bit RSA key is too small (at least {MIN_RSA_BITS} bits)"
            )));
        }
        // http-sig only builds its signer from encoded bytes, so hand it
        // PKCS#1 DER once and wipe the copy afterwards.
        let rsa = private_key
            .rsa()
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let mut der = rsa
            .private_key_to_der()
            .map_err(|e| SignError::InvalidKey(e.to_string()))?;
        let key = RsaSha256Sign::new_der(&der).map_err(|e| SignError::InvalidKey(e.to_string()));
        der.fill(0);
        std::hint::black_box(&der);
        Ok(Self { key: key?, key_id })
    }

    /// The keyId this signer sends.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs a request and returns the `Signature` header value,
    /// `keyId="…",algorithm="rsa-sha256",headers="…",signature="…"`.
    ///
    /// `path_and_query` is the path with its query string, exactly as sent.
    /// `header_names` lists the signed headers in order, e.g.
    /// `["(request-target)", "date", "digest", "x-request-id"]`; they are
    /// written lowercase. An empty list signs `date` and omits `headers`, the
    /// draft-10 default. Every listed header must be in `headers`
    /// ([`SignError::MissingHeader`] otherwise); add `Digest` (see
    /// [`super::digest_header`]) before signing if it is listed.
    pub fn sign<H>(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &H,
        header_names: &[&str],
    ) -> Result<String, SignError>
    where
        H: HeaderSource + ?Sized,
    {
        let signing_string = if header_names.is_empty() {
            build(method, path_and_query, headers, [DEFAULT_SIGNED_HEADERS])?
        } else {
            build(
                method,
                path_and_query,
                headers,
                header_names.iter().copied(),
            )?
        };
        let signature = self.key.http_sign(&signing_string);
        let params = SignatureParams {
            key_id: self.key_id.clone(),
            algorithm: Algorithm::RsaSha256,
            headers: (!header_names.is_empty())
                .then(|| header_names.join(" ").to_ascii_lowercase()),
            signature,
        };
        Ok(params.to_string())
    }
}
