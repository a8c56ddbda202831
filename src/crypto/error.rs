//! Typed errors for the keyring and sealed blobs.
//!
//! Messages name a key by its id or by its position in `PASSERELLE_SEALING_KEYS`, never by its
//! bytes: these errors end up in start-up logs. An entry whose id is itself malformed is named by
//! position only, because a malformed "id" is often key material pasted in the wrong place.

use std::path::PathBuf;

use openssl::error::ErrorStack;

/// Why a keyring could not be built, or a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key specification holds no entry at all.
    #[error(
        "no sealing key configured (expected `id:base64key[,id:base64key…]`, the first one active)"
    )]
    NoKeys,
    /// An entry is empty or has no `:` between the id and the key.
    #[error("sealing key entry {position} is not of the form `id:base64key`")]
    MalformedKeyEntry {
        /// 1-based position of the entry in the comma-separated list.
        position: usize,
    },
    /// An entry's id is empty, too long or uses characters outside `[A-Za-z0-9_-]`.
    #[error("sealing key entry {position} has an invalid key id (expected 1 to 32 characters among A-Z a-z 0-9 _ -)")]
    InvalidKeyId {
        /// 1-based position of the entry in the comma-separated list.
        position: usize,
    },
    /// The key part of an entry is not standard (padded) base64.
    #[error("sealing key `{key_id}` is not valid standard base64")]
    KeyNotBase64 {
        /// The id of the offending key.
        key_id: String,
    },
    /// The key decodes to something other than the 32 bytes AES-256 needs.
    #[error("sealing key `{key_id}` decodes to {len} bytes; AES-256 needs exactly 32")]
    KeyWrongLength {
        /// The id of the offending key.
        key_id: String,
        /// How many bytes it decoded to.
        len: usize,
    },
    /// Two entries share an id, so a blob's key id would be ambiguous.
    #[error("sealing key id `{key_id}` appears more than once")]
    DuplicateKeyId {
        /// The repeated id.
        key_id: String,
    },
    /// The blob is shorter than its header says it must be.
    #[error("sealed blob is truncated ({len} bytes)")]
    Truncated {
        /// The blob's actual length.
        len: usize,
    },
    /// The blob's first byte is not a format version this build knows.
    #[error("sealed blob has unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The key id stored in the blob is not a valid key id.
    #[error("sealed blob carries a malformed key id")]
    MalformedBlobKeyId,
    /// The blob was sealed under a key that is not in the keyring (retired too early?).
    #[error("sealed blob was sealed under key `{0}`, which is not in the keyring")]
    UnknownKeyId(String),
    /// The tag did not verify: wrong row (associated data), wrong key bytes, or a tampered blob.
    /// One variant for all three, as AES-GCM cannot tell them apart.
    #[error("sealed blob failed authentication (wrong row, wrong key or tampered blob)")]
    AuthenticationFailed,
    /// [`Keyring::open_str`](super::Keyring::open_str) opened bytes that are not UTF-8.
    #[error("opened secret is not valid UTF-8")]
    NotUtf8,
    /// OpenSSL failed while generating randomness or encrypting.
    #[error("OpenSSL failed to {operation}")]
    OpenSsl {
        /// What was being done.
        operation: &'static str,
        /// OpenSSL's own error.
        #[source]
        source: ErrorStack,
    },
    /// The dev keyring file or its directory could not be read or written.
    #[error("cannot {operation} dev keyring file {}", path.display())]
    DevKeyringIo {
        /// What was being done (`read`, `create`, …).
        operation: &'static str,
        /// The dev keyring file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The dev keyring file exists but does not hold a valid key specification.
    #[error("dev keyring file {} is invalid", path.display())]
    DevKeyringInvalid {
        /// The dev keyring file.
        path: PathBuf,
        /// What is wrong with its content (never the key bytes).
        #[source]
        source: Box<CryptoError>,
    },
}
