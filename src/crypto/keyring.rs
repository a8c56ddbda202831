//! The keyring: every key a stored blob may have been sealed under, one of them active.

use std::fmt;

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::blob::{self, Blob, NONCE_LEN, TAG_LEN};
use super::key_spec;
use super::sealing_key::SealingKey;
use super::CryptoError;

/// The sealing keys, by id; new blobs are sealed under the active one, and blobs sealed under
/// any of them can be opened.
///
/// Retiring a key is: put a new key first in `PASSERELLE_SEALING_KEYS`, keep the old one after
/// it, run `passerelle keys rotate` (which calls [`Keyring::reseal`] on every row), then drop the
/// old key from the list.
pub struct Keyring {
    /// The first key configured: the one new blobs are sealed under. Kept apart from the others
    /// so that "there is an active key" holds by construction.
    active: (String, SealingKey),
    /// The other keys, in the order configured, still accepted for opening.
    older: Vec<(String, SealingKey)>,
}

impl Keyring {
    /// Parses `PASSERELLE_SEALING_KEYS`: comma-separated `id:base64key` entries, where the key is
    /// standard base64 of exactly 32 bytes and the id is 1 to 32 of `[A-Za-z0-9_-]`, with no id
    /// repeated. The first entry is the active key.
    ///
    /// Errors name the entry by id or position, never by its key bytes.
    pub fn parse(spec: &SecretString) -> Result<Self, CryptoError> {
        let mut keys = key_spec::parse(spec.expose_secret())?.into_iter();
        let active = keys.next().ok_or(CryptoError::NoKeys)?;
        Ok(Self {
            active,
            older: keys.collect(),
        })
    }

    /// A keyring of one key: the dev keyring freshly generated.
    pub(super) fn single(id: String, key: SealingKey) -> Self {
        Self {
            active: (id, key),
            older: Vec::new(),
        }
    }

    /// The id of the key new blobs are sealed under.
    pub fn active_id(&self) -> &str {
        self.active.0.as_str()
    }

    /// Every key id, the active one first: for `passerelle keys` to show what is configured.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys().map(|(id, _)| id.as_str())
    }

    /// Seals `plaintext` under the active key, bound to `aad`: the row the blob is stored in
    /// (e.g. `b"tokens:<connection_id>:refresh"`), so that a blob copied to another row fails to
    /// open.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (id, key) = &self.active;
        let header = blob::header(id);
        let encrypted = key.encrypt(&gcm_aad(&header, aad), plaintext)?;
        let mut sealed = header;
        sealed.reserve_exact(NONCE_LEN + encrypted.ciphertext.len() + TAG_LEN);
        sealed.extend_from_slice(&encrypted.nonce);
        sealed.extend_from_slice(&encrypted.ciphertext);
        sealed.extend_from_slice(&encrypted.tag);
        Ok(sealed)
    }

    /// [`Keyring::seal`] for a string secret such as an access or refresh token.
    pub fn seal_str(&self, plaintext: &str, aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.seal(plaintext.as_bytes(), aad)
    }

    /// Opens a blob sealed by [`Keyring::seal`] under any key of the keyring, checking that it
    /// was sealed for the same `aad`. The plaintext is zeroized when dropped.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretBox<[u8]>, CryptoError> {
        let plaintext = self.open_vec(sealed, aad)?;
        // Copied into an exact-size box by hand: `SecretBox::from(Vec)` shrinks the vector,
        // which may reallocate and free the original buffer without zeroizing it.
        Ok(SecretBox::new(Box::<[u8]>::from(plaintext.as_slice())))
    }

    /// [`Keyring::open`] for a string secret; fails with [`CryptoError::NotUtf8`] if the
    /// plaintext is not UTF-8.
    pub fn open_str(&self, sealed: &[u8], aad: &[u8]) -> Result<SecretString, CryptoError> {
        let plaintext = self.open_vec(sealed, aad)?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| CryptoError::NotUtf8)?;
        // Same reason as in `open`: an exact-size copy, then the decrypted buffer is wiped.
        Ok(SecretString::new(Box::<str>::from(text)))
    }

    /// Re-seals a blob under the active key if it was sealed under another key.
    ///
    /// Returns `Some(new blob)` for a blob under an older key (opened and verified against
    /// `aad` first), and `None` for one already under the active key. The latter is decided
    /// from the header alone, so a rotation over every row does not decrypt the rows that are
    /// already current.
    pub fn reseal(&self, sealed: &[u8], aad: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
        if blob::key_id_of(sealed)? == self.active_id() {
            return Ok(None);
        }
        let plaintext = self.open_vec(sealed, aad)?;
        self.seal(&plaintext, aad).map(Some)
    }

    /// Every key, the active one first.
    fn keys(&self) -> impl Iterator<Item = &(String, SealingKey)> {
        std::iter::once(&self.active).chain(&self.older)
    }

    /// Decrypts into a buffer that is zeroized when dropped, on error paths too.
    fn open_vec(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let blob = Blob::parse(sealed)?;
        let (_, key) = self
            .keys()
            .find(|(id, _)| id == blob.key_id)
            .ok_or_else(|| CryptoError::UnknownKeyId(blob.key_id.into()))?;
        key.decrypt(
            blob.nonce,
            &gcm_aad(blob.header, aad),
            blob.ciphertext,
            blob.tag,
        )
    }
}

/// The associated data given to AES-GCM: the blob header, then the caller's row identifier.
///
/// Authenticating the header means a blob whose version or key id was edited fails to open
/// even if the edited id names a key with the same bytes. The header is self-delimiting (its
/// key id is length-prefixed), so the concatenation is unambiguous.
fn gcm_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    [header, aad].concat()
}

/// Shows the key ids and which one is active; the key bytes never appear.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active_id())
            .field("key_ids", &self.key_ids().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
