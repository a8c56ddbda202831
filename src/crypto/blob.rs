//! The sealed-blob wire format (version 1), independent of any key.
//!
//! ```text
//! [version = 1][key id length n: u8][key id: n bytes][nonce: 12 bytes][ciphertext][tag: 16 bytes]
//! ```
//!
//! Parsing only checks structure; whether the key exists and the tag verifies is the keyring's
//! business.

use super::key_spec::is_valid_key_id;
use super::CryptoError;

/// The only format version this build writes and reads.
pub(super) const VERSION: u8 = 1;
/// AES-GCM nonce length: 96 bits, the size GCM is specified for (no GHASH of the IV).
pub(super) const NONCE_LEN: usize = 12;
/// AES-GCM tag length: the full 128 bits.
pub(super) const TAG_LEN: usize = 16;

/// A structurally valid blob, borrowed into its parts.
pub(super) struct Blob<'a> {
    /// `version || key id length || key id`: authenticated with the caller's associated data.
    pub header: &'a [u8],
    /// The id of the key the blob was sealed under.
    pub key_id: &'a str,
    /// The 96-bit nonce.
    pub nonce: &'a [u8],
    /// The encrypted payload (same length as the plaintext).
    pub ciphertext: &'a [u8],
    /// The 128-bit authentication tag.
    pub tag: &'a [u8],
}

impl<'a> Blob<'a> {
    /// Splits `bytes` into its parts, or says why it cannot be a version-1 blob.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CryptoError> {
        let truncated = || CryptoError::Truncated { len: bytes.len() };
        let (&version, rest) = bytes.split_first().ok_or_else(truncated)?;
        if version != VERSION {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        let (&id_len, rest) = rest.split_first().ok_or_else(truncated)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + NONCE_LEN + TAG_LEN {
            return Err(truncated());
        }
        let (id_bytes, rest) = rest.split_at(id_len);
        let key_id = std::str::from_utf8(id_bytes)
            .ok()
            .filter(|id| is_valid_key_id(id))
            .ok_or(CryptoError::MalformedBlobKeyId)?;
        let (nonce, rest) = rest.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        Ok(Self {
            header: &bytes[..2 + id_len],
            key_id,
            nonce,
            ciphertext,
            tag,
        })
    }
}

/// The header of a blob sealed under `key_id`, which must already be a valid key id (so at most
/// 32 bytes and the length fits in its byte).
pub(super) fn header(key_id: &str) -> Vec<u8> {
    let mut header = Vec::with_capacity(2 + key_id.len());
    header.push(VERSION);
    // Key ids are validated to at most 32 bytes when the keyring is built.
    header.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    header.extend_from_slice(key_id.as_bytes());
    header
}

/// The id of the key a sealed blob was sealed under, read from its header without decrypting.
///
/// Lets `passerelle keys rotate` and operators see which rows still depend on an old key.
pub fn key_id_of(blob: &[u8]) -> Result<&str, CryptoError> {
    Blob::parse(blob).map(|b| b.key_id)
}
