//! Sealing secrets at rest: AES-256-GCM through OpenSSL, in versioned blobs that name their key
//! and are bound to the row they are stored in.
//!
//! - [`Keyring`]: the keys (from `PASSERELLE_SEALING_KEYS`, or the dev keyring file), one of
//!   them active; [`Keyring::seal`] / [`Keyring::open`] and their `_str` forms for tokens;
//!   [`Keyring::reseal`] for `passerelle keys rotate`.
//! - [`key_id_of`]: which key a blob was sealed under, without decrypting it.
//! - [`CryptoError`]: every failure, typed; none of them carries key bytes or plaintext.
//!
//! # Blob format (version 1)
//!
//! ```text
//! offset  length  field
//! 0       1       format version = 1
//! 1       1       key id length n (1..=32)
//! 2       n       key id, ASCII [A-Za-z0-9_-]
//! 2+n     12      nonce (random, fresh for every seal)
//! 14+n    len     ciphertext (as long as the plaintext)
//! end-16  16      GCM tag
//! ```
//!
//! The GCM associated data is the header (bytes `0..2+n`) followed by the caller's `aad`, which
//! names the row, e.g. `b"tokens:<connection_id>:refresh"`. A blob therefore fails to open if it
//! is copied to another row, if any byte of it (version, key id, nonce, ciphertext, tag) is
//! changed, or under a key with other bytes than the one that sealed it.
//!
//! # Keys
//!
//! `PASSERELLE_SEALING_KEYS` is `id:base64key[,id:base64key…]`: standard base64 of 32 random
//! bytes (`openssl rand -base64 32`), ids of 1 to 32 characters among `[A-Za-z0-9_-]`. The first
//! key seals; all of them open. To rotate, prepend a new key, run `passerelle keys rotate`, then
//! remove the old key. Without that setting, `passerelle serve` uses
//! [`Keyring::generate_dev`], a key generated once into the data directory, which is fine for
//! development and wrong for production (the key sits next to the database it protects).

mod blob;
mod dev_keyring;
mod error;
mod key_spec;
mod keyring;
mod sealing_key;

#[cfg(test)]
mod tests;

pub use blob::key_id_of;
pub use error::CryptoError;
pub use keyring::Keyring;
