//! Typed errors for signing and verifying.
//!
//! The signing-string rules are shared by both sides, so their failures are
//! first raised as [`CanonicalError`] and then mapped onto the variant of the
//! same name in [`SignError`] or [`VerifyError`]: a caller matching on
//! `SignError::MissingHeader` never has to know about the shared layer.

use openssl::error::ErrorStack;

/// Why a request could not be signed, or a keyId could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// A header named in the signed header list is absent from the request.
    /// Signing without it would silently weaken what the bank checks.
    #[error("signed header list names `{0}` but the request has no {title} header", title = header_title(.0))]
    MissingHeader(String),
    /// A pseudo-header other than `(request-target)`, such as `(created)`,
    /// which draft-cavage-10 does not define for `rsa-sha256`.
    #[error(
        "signed header list names `{0}`, which rsa-sha256 (draft-cavage-10) does not define; \
         the only supported pseudo-header is `(request-target)`"
    )]
    UnsupportedPseudoHeader(String),
    /// A signed header name that is not an HTTP token.
    #[error("`{0}` is not a valid name for the signed header list (expected an HTTP token such as `x-request-id`)")]
    InvalidHeaderName(String),
    /// A header value contains CR, LF or NUL, which would make the signing
    /// string ambiguous.
    #[error("the {title} header value contains a line break or NUL and cannot be signed", title = header_title(.0))]
    InvalidHeaderValue(String),
    /// The signed header list is empty, so the signature would cover nothing.
    #[error("the signed header list is empty; a signature must cover at least one header")]
    NoHeaders,
    /// The method or the path-and-query cannot form a `(request-target)`.
    #[error("invalid request target: {0}")]
    InvalidRequestTarget(&'static str),
    /// The private key cannot produce `rsa-sha256` signatures.
    #[error("the QSEAL private key cannot sign rsa-sha256: {0}")]
    InvalidKey(String),
    /// The keyId would not fit in a quoted header parameter.
    #[error("invalid keyId: {0}")]
    InvalidKeyId(&'static str),
    /// OpenSSL could not read a field of the QSEAL certificate.
    #[error("cannot read the {what} of the QSEAL certificate to build the keyId")]
    Certificate {
        /// The certificate field being read.
        what: &'static str,
        /// OpenSSL's own error.
        #[source]
        source: ErrorStack,
    },
}

/// Why a `Signature` or `Digest` header was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The `Signature` header does not follow the `name="value",…` syntax.
    #[error("malformed Signature header at byte {position}: {reason}")]
    Malformed {
        /// Byte offset in the header value where parsing stopped.
        position: usize,
        /// What was expected there.
        reason: &'static str,
    },
    /// A parameter appears twice; which one wins would be ambiguous.
    #[error("Signature header has the `{0}` parameter more than once")]
    DuplicateParameter(String),
    /// A required parameter (`keyId`, `algorithm`, `signature`) is absent.
    #[error("Signature header has no `{0}` parameter")]
    MissingParameter(&'static str),
    /// The `algorithm` parameter is not `rsa-sha256`.
    #[error("Signature header algorithm `{0}` is not supported (expected `rsa-sha256`)")]
    UnsupportedAlgorithm(String),
    /// `headers=""`: the signature would cover nothing.
    #[error("Signature header `headers` parameter is empty")]
    EmptyHeaderList,
    /// The `signature` parameter is not standard padded base64.
    #[error("Signature header `signature` parameter is not valid base64")]
    SignatureEncoding,
    /// A header named in the signed header list is absent from the request.
    #[error("signed header list names `{0}` but the request has no {title} header", title = header_title(.0))]
    MissingHeader(String),
    /// A pseudo-header other than `(request-target)`.
    #[error(
        "signed header list names `{0}`, which rsa-sha256 (draft-cavage-10) does not define; \
         the only supported pseudo-header is `(request-target)`"
    )]
    UnsupportedPseudoHeader(String),
    /// A signed header name that is not an HTTP token.
    #[error("`{0}` is not a valid name in the signed header list")]
    InvalidHeaderName(String),
    /// A header value contains CR, LF or NUL.
    #[error("the {title} header value contains a line break or NUL", title = header_title(.0))]
    InvalidHeaderValue(String),
    /// The method or the path-and-query cannot form a `(request-target)`.
    #[error("invalid request target: {0}")]
    InvalidRequestTarget(&'static str),
    /// The signature's length is not the key's modulus length, so it was made
    /// with another key (or truncated).
    #[error("signature is {actual} bytes long but the key makes {expected}-byte signatures (signed with another key?)")]
    SignatureLength {
        /// Signature length the public key implies.
        expected: usize,
        /// Length of the decoded `signature` parameter.
        actual: usize,
    },
    /// The signature does not verify over the rebuilt signing string.
    #[error("signature does not match the request (a signed header, method or path differs, or another key signed it)")]
    SignatureMismatch,
    /// The public key cannot verify `rsa-sha256` signatures.
    #[error("the public key cannot verify rsa-sha256: {0}")]
    InvalidKey(String),
    /// The `Digest` header is not `algorithm=base64[, …]`.
    #[error("malformed Digest header: {0}")]
    DigestMalformed(&'static str),
    /// The `Digest` header carries no `SHA-256` value.
    #[error("Digest header has no SHA-256 value (found: {0})")]
    DigestAlgorithmMissing(String),
    /// The `SHA-256` value is not the digest of the body received.
    #[error("Digest header SHA-256 value does not match the body")]
    DigestMismatch,
}

/// Signing-string failures shared by the signer and the verifier.
#[derive(Debug)]
pub(crate) enum CanonicalError {
    MissingHeader(String),
    UnsupportedPseudoHeader(String),
    InvalidHeaderName(String),
    InvalidHeaderValue(String),
    NoHeaders,
    InvalidRequestTarget(&'static str),
}

impl From<CanonicalError> for SignError {
    fn from(e: CanonicalError) -> Self {
        match e {
            CanonicalError::MissingHeader(n) => Self::MissingHeader(n),
            CanonicalError::UnsupportedPseudoHeader(n) => Self::UnsupportedPseudoHeader(n),
            CanonicalError::InvalidHeaderName(n) => Self::InvalidHeaderName(n),
            CanonicalError::InvalidHeaderValue(n) => Self::InvalidHeaderValue(n),
            CanonicalError::NoHeaders => Self::NoHeaders,
            CanonicalError::InvalidRequestTarget(r) => Self::InvalidRequestTarget(r),
        }
    }
}

impl From<CanonicalError> for VerifyError {
    fn from(e: CanonicalError) -> Self {
        match e {
            CanonicalError::MissingHeader(n) => Self::MissingHeader(n),
            CanonicalError::UnsupportedPseudoHeader(n) => Self::UnsupportedPseudoHeader(n),
            CanonicalError::InvalidHeaderName(n) => Self::InvalidHeaderName(n),
            CanonicalError::InvalidHeaderValue(n) => Self::InvalidHeaderValue(n),
            // The parser rejects `headers=""`, so this only happens with
            // hand-built params; report it the same way.
            CanonicalError::NoHeaders => Self::EmptyHeaderList,
            CanonicalError::InvalidRequestTarget(r) => Self::InvalidRequestTarget(r),
        }
    }
}

/// `x-request-id` → `X-Request-Id`, so messages name headers the way people
/// write them in HTTP traces.
fn header_title(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        out.push(if start { c.to_ascii_uppercase() } else { c });
        start = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_header_message_names_the_header() {
        let e = SignError::MissingHeader("digest".into());
        assert_eq!(
            e.to_string(),
            "signed header list names `digest` but the request has no Digest header"
        );
        let e = VerifyError::MissingHeader("x-request-id".into());
        assert_eq!(
            e.to_string(),
            "signed header list names `x-request-id` but the request has no X-Request-Id header"
        );
    }
}
