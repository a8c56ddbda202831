//! QSEAL HTTP signatures as STET requires them: draft-cavage-http-signatures-10
//! with `rsa-sha256`, sent in a `Signature` header (not `Authorization`).
//!
//! - [`digest_header`] / [`verify_digest`]: the `Digest: SHA-256=…` header over
//!   the exact body bytes.
//! - [`signing_string()`]: the `name: value` lines, with `(request-target)` as
//!   `<lowercase method> <path?query>` and repeated headers joined by `, `.
//! - [`key_id()`]: the keyId each bank wants ([`KeyIdFormat`]).
//! - [`Signer`]: builds the `Signature` header value with the QSEAL key.
//! - [`parse_signature_header`] / [`verify`]: the verifying side, for the
//!   sandbox bank and bank response signatures.
//!
//! From the `http-sig` crate only the RSA-SHA256 primitives
//! (`RsaSha256Sign`, `RsaSha256Verify` through `HttpSignatureSign` /
//! `HttpSignatureVerify`) are used. Its high-level signing writes an
//! `Authorization` header with `hs2019`, its parser splits the `SN=…,CA=…`
//! keyId on commas, and its canonicalizer needs `http` 0.2 types and follows
//! draft-12 defaults; see `signing_string.rs` and `params.rs` for details.
//!
//! Draft -10 is followed where the drafts differ (default signed headers are
//! `date`; no `(created)`/`(expires)`), because that is the version whose
//! published `rsa-sha256` test vectors verify and what STET banks implement.
//! Header input goes through the [`HeaderSource`] trait so that neither awc
//! nor actix-web types leak in here.

mod digest;
mod error;
mod headers;
mod key_id;
mod params;
mod signer;
mod signing_string;
mod verifier;

pub use digest::{digest_header, verify_digest};
pub use error::{SignError, VerifyError};
pub use headers::HeaderSource;
pub use key_id::{certificate_fingerprint, issuer_dn, key_id, serial_hex, KeyIdFormat};
pub use params::{parse_signature_header, Algorithm, SignatureParams, DEFAULT_SIGNED_HEADERS};
pub use signer::Signer;
pub use signing_string::{signing_string, REQUEST_TARGET};
pub use verifier::{verify, VerifyingKey};
