//! The simulator's key material: the RSA key that signs its access tokens (published as a
//! JWKS), and one RSA key with a self-signed certificate per persona, standing for the key the
//! Treezor SDK keeps on the user's enrolled device (it signs SCA proofs). Generated once per
//! process, at the first sandbox start: RSA generation is slow, and every sandbox a test suite
//! starts would otherwise pay it again.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use openssl::x509::{X509Builder, X509NameBuilder, X509};
use serde_json::{json, Value};

use super::personas::PERSONAS;

/// One persona's device key and its certificate.
#[derive(Clone)]
pub struct DeviceKey {
    /// The private key (never leaves the "device").
    pub key: PKey<Private>,
    /// The self-signed certificate the simulator issued for it, sent in each proof's `x5c`.
    pub cert: X509,
}

/// Every key the simulator holds.
#[derive(Clone)]
pub struct Keys {
    /// Signs access tokens (RS256).
    pub signing: PKey<Private>,
    /// The signing key's `kid`.
    pub kid: String,
    /// Device keys by `userId`.
    pub devices: HashMap<u64, DeviceKey>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

static KEYS: OnceLock<Keys> = OnceLock::new();

impl Keys {
    /// The process's keys, generated on first use.
    pub fn get() -> Result<Self, ErrorStack> {
        if let Some(keys) = KEYS.get() {
            return Ok(keys.clone());
        }
        let keys = Self::generate()?;
        // Two sandboxes starting at once may both generate; the first stored wins.
        let _ = KEYS.set(keys.clone());
        Ok(KEYS.get().cloned().unwrap_or(keys))
    }

    fn generate() -> Result<Self, ErrorStack> {
        let signing = PKey::from_rsa(Rsa::generate(2048)?)?;
        let mut devices = HashMap::new();
        for persona in PERSONAS {
            let key = PKey::from_rsa(Rsa::generate(2048)?)?;
            let cert = self_signed(&key, &format!("{} device", persona.username))?;
            devices.insert(persona.user_id, DeviceKey { key, cert });
        }
        Ok(Self {
            signing,
            kid: format!("trz-sandbox-{}", uuid::Uuid::new_v4().simple()),
            devices,
        })
    }

    /// The JWKS document publishing the token-signing key.
    pub fn jwks(&self) -> Result<Value, ErrorStack> {
        let rsa = self.signing.rsa()?;
        let b64 = |n: &openssl::bn::BigNumRef| URL_SAFE_NO_PAD.encode(n.to_vec());
        Ok(json!({"keys": [{
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64(rsa.n()),
            "e": b64(rsa.e()),
        }]}))
    }

    /// A JWS compact token over `payload` with the token-signing key.
    pub fn sign_token(&self, payload: &Value) -> Result<String, ErrorStack> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        jws(&self.signing, &header, payload)
    }
}

/// A self-signed certificate for `key`, valid two years.
fn self_signed(key: &PKey<Private>, common_name: &str) -> Result<X509, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    name.append_entry_by_text("O", "Treezor sandbox device")?;
    let name = name.build();
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = BigNum::from_u32(rand_u32()?)?.to_asn1_integer()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(key)?;
    builder.set_not_before(Asn1Time::days_from_now(0)?.as_ref())?;
    builder.set_not_after(Asn1Time::days_from_now(730)?.as_ref())?;
    builder.sign(key, MessageDigest::sha256())?;
    Ok(builder.build())
}

fn rand_u32() -> Result<u32, ErrorStack> {
    let mut buf = [0u8; 4];
    openssl::rand::rand_bytes(&mut buf)?;
    Ok(u32::from_be_bytes(buf) | 1)
}

/// `base64url(header).base64url(payload).base64url(RS256 signature)`.
pub fn jws(key: &PKey<Private>, header: &Value, payload: &Value) -> Result<String, ErrorStack> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(input.as_bytes())?;
    let signature = signer.sign_to_vec()?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// A certificate as an `x5c` entry (standard base64 of its DER, RFC 7515 §4.1.6).
pub fn x5c(cert: &X509) -> Result<String, ErrorStack> {
    Ok(STANDARD.encode(cert.to_der()?))
}
