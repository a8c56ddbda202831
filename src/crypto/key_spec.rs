//! The textual key specification: `id:base64key[,id:base64key…]`, as found in
//! `PASSERELLE_SEALING_KEYS` and in the dev keyring file.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use secrecy::zeroize::Zeroizing;

use super::sealing_key::{SealingKey, KEY_LEN};
use super::CryptoError;

/// Longest key id accepted: it is stored in every blob, so it stays short.
pub(super) const MAX_KEY_ID_LEN: usize = 32;

/// Whether `id` is a valid key id: 1 to 32 characters among `[A-Za-z0-9_-]`.
pub(super) fn is_valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parses a key specification into `(id, key)` pairs in the order written, so the first is the
/// active one.
///
/// Whitespace around entries and around either side of the `:` is ignored, so a value copied
/// with a trailing newline or written as `a:…, b:…` still parses. An empty entry (`a:…,,b:…`) is
/// an error rather than skipped: it usually means a key went missing in an edit.
pub(super) fn parse(spec: &str) -> Result<Vec<(String, SealingKey)>, CryptoError> {
    if spec.trim().is_empty() {
        return Err(CryptoError::NoKeys);
    }
    let mut keys: Vec<(String, SealingKey)> = Vec::new();
    for (index, entry) in spec.split(',').enumerate() {
        let position = index + 1;
        let (id, encoded) = entry
            .split_once(':')
            .ok_or(CryptoError::MalformedKeyEntry { position })?;
        let (id, encoded) = (id.trim(), encoded.trim());
        if !is_valid_key_id(id) {
            return Err(CryptoError::InvalidKeyId { position });
        }
        if keys.iter().any(|(known, _)| known == id) {
            return Err(CryptoError::DuplicateKeyId { key_id: id.into() });
        }
        // The base64 crate's error names the offending byte, which is key material: dropped.
        let decoded = Zeroizing::new(
            STANDARD
                .decode(encoded)
                .map_err(|_| CryptoError::KeyNotBase64 { key_id: id.into() })?,
        );
        let key = SealingKey::from_slice(&decoded).ok_or_else(|| CryptoError::KeyWrongLength {
            key_id: id.into(),
            len: decoded.len(),
        })?;
        keys.push((id.into(), key));
    }
    Ok(keys)
}

/// Formats one entry, `id:base64key\n`, in a buffer that is zeroized on drop.
pub(super) fn format_entry(id: &str, key: &SealingKey) -> Zeroizing<String> {
    // Sized up front so that encoding never reallocates and leaves a stray copy of the key.
    let encoded_len = KEY_LEN.div_ceil(3) * 4;
    let mut line = Zeroizing::new(String::with_capacity(id.len() + 1 + encoded_len + 1));
    line.push_str(id);
    line.push(':');
    STANDARD.encode_string(key.expose(), &mut line);
    line.push('\n');
    line
}
