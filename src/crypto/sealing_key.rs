//! One AES-256-GCM key and the two operations done with it.

use openssl::rand::rand_bytes;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox};

use super::blob::{NONCE_LEN, TAG_LEN};
use super::CryptoError;

/// AES-256 key length in bytes.
pub(super) const KEY_LEN: usize = 32;

/// The output of one AES-256-GCM encryption.
pub(super) struct Encrypted {
    /// The random nonce it used.
    pub nonce: [u8; NONCE_LEN],
    /// The ciphertext, as long as the plaintext.
    pub ciphertext: Vec<u8>,
    /// The authentication tag.
    pub tag: [u8; TAG_LEN],
}

/// A 256-bit key, zeroized on drop and never printed.
pub(super) struct SealingKey(SecretBox<[u8; KEY_LEN]>);

impl SealingKey {
    /// Copies `bytes` into a fresh secret box, or `None` unless it is exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != KEY_LEN {
            return None;
        }
        // Filled in place so that no unzeroized copy of the array is left on the stack.
        Some(Self(SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| {
            key.copy_from_slice(bytes)
        })))
    }

    /// A key from OpenSSL's CSPRNG.
    pub fn random() -> Result<Self, CryptoError> {
        // Generated straight into the box (see `from_slice`); the box is dropped, zeroized, if
        // OpenSSL fails.
        let mut generated = Ok(());
        let key = SecretBox::init_with_mut(|key: &mut [u8; KEY_LEN]| generated = rand_bytes(key));
        generated.map_err(|source| CryptoError::OpenSsl {
            operation: "generate a sealing key",
            source,
        })?;
        Ok(Self(key))
    }

    /// The raw key bytes, for writing the dev keyring file.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        self.0.expose_secret()
    }

    /// Encrypts `plaintext` under a fresh random nonce.
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Encrypted, CryptoError> {
        // A random 96-bit nonce per seal: with at most a few million seals per key the collision
        // probability stays far below GCM's 2^-32 bound, and no counter has to be kept in sync
        // across instances.
        let mut nonce = [0u8; NONCE_LEN];
        rand_bytes(&mut nonce).map_err(|source| CryptoError::OpenSsl {
            operation: "generate a nonce",
            source,
        })?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose_secret(),
            Some(&nonce),
            aad,
            plaintext,
            &mut tag,
        )
        .map_err(|source| CryptoError::OpenSsl {
            operation: "encrypt with AES-256-GCM",
            source,
        })?;
        Ok(Encrypted {
            nonce,
            ciphertext,
            tag,
        })
    }

    /// Decrypts and verifies; the plaintext is zeroized when dropped.
    pub fn decrypt(
        &self,
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        // Any failure here is a tag mismatch in practice (key, nonce and tag lengths are fixed by
        // the blob parser), and OpenSSL's error stack would say nothing more useful.
        decrypt_aead(
            Cipher::aes_256_gcm(),
            self.0.expose_secret(),
            Some(nonce),
            aad,
            ciphertext,
            tag,
        )
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::AuthenticationFailed)
    }
}
