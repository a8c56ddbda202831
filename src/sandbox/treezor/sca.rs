//! The SCA rules of seed 000, enforced per user on the server side, and the SCA proof.
//!
//! - 180-day exemption ([`Rule::Exempt180`]): the user's last SCA (login with PIN, or a valid
//!   proof) is at most 180 days old, or the request carries a valid proof. Else `sca_required`.
//! - Per-session ([`Rule::PerSession`]): this token's session was opened with an SCA (and is
//!   active: the token is unexpired), or the request carries a valid proof, which opens the
//!   token's session with SCA from then on. Else `sca_session_required`.
//! - Per-operation ([`Rule::PerOperation`]): a valid proof over exactly the seed's fields present
//!   in the payload. Missing: `sca_proof_required`; invalid: `sca_proof_invalid`.
//!
//! A proof is a JWS (RS256) signed by the key of the user's enrolled device, whose certificate
//! travels in `x5c`; its `dataToSign` is the hex SHA-256 of
//! `serde_json::to_string({"url": url, "body": body})` (keys sorted). Single use.

use actix_web::HttpRequest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Duration, TimeZone, Utc};
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use serde_json::{json, Map, Value};

use super::auth::Caller;
use super::error::TreezorError;
use super::keys::{jws, x5c, Keys};
use super::state::Inner;

/// How old the last SCA may be for the exempted endpoints.
pub const EXEMPTION: Duration = Duration::days(180);
/// A proof's `iat` may be this old.
pub const PROOF_MAX_AGE: Duration = Duration::seconds(300);
/// …and this far in the future (clock skew).
pub const PROOF_MAX_SKEW: Duration = Duration::seconds(5);
/// The AMR values a proof may carry.
pub const AMR_ALLOWED: [&str; 3] = ["CLOUD_PIN", "HYBRID_PIN", "DEVICE_BIOMETRIC"];
/// The signed fields of `POST /v1/payouts` (seed 000 table).
pub const PAYOUT_FIELDS: [&str; 5] = [
    "walletId",
    "amount",
    "currency",
    "bankaccountId",
    "beneficiaryId",
];
/// The signed fields of `POST /v1/beneficiaries`.
pub const BENEFICIARY_FIELDS: [&str; 6] =
    ["userId", "name", "address", "iban", "bic", "usableForSct"];
/// The signed fields of `POST /v1/transfers` to another user's wallet.
pub const TRANSFER_FIELDS: [&str; 5] = [
    "walletId",
    "beneficiaryWalletId",
    "amount",
    "currency",
    "transferTypeId",
];

/// Which SCA an endpoint needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An SCA in the last 180 days.
    Exempt180,
    /// This session opened with an SCA.
    PerSession,
    /// A proof for this very operation.
    PerOperation,
}

/// Why a proof was refused; each maps to one of the seed's External Operation notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofFault {
    /// Not a readable JWS.
    Parse,
    /// `x5c` is not the certificate issued for the user.
    WrongCertificate,
    /// The signature does not verify.
    Signature,
    /// `trz:sca` is not true.
    WrongSca,
    /// `userType` is not `user`.
    NotUser,
    /// `amr` not allowed.
    AmrNotAllowed,
    /// `iat` too old or in the future.
    Stale,
    /// Signed by another user than the token's.
    OtherUser,
    /// `dataToSign` is not this request's.
    DataMismatch,
    /// Already accepted once.
    AlreadyUsed,
}

impl ProofFault {
    /// Why, in words.
    pub fn message(self) -> &'static str {
        match self {
            Self::Parse => "the SCA proof is not readable",
            Self::WrongCertificate => "the SCA proof certificate is not valid for this user",
            Self::Signature => "the SCA proof signature does not verify",
            Self::WrongSca => "the SCA proof trz:sca is not true",
            Self::NotUser => "the SCA proof userType is not user",
            Self::AmrNotAllowed => "the SCA proof amr is not allowed",
            Self::Stale => "the SCA proof iat is not within the last 300 seconds",
            Self::OtherUser => "the SCA proof was signed by another user",
            Self::DataMismatch => {
                "the SCA proof dataToSign does not match this request's url and body"
            }
            Self::AlreadyUsed => "the SCA proof was already used",
        }
    }
}

/// A proof whose signature, certificate and claims are good (freshness and binding aside).
#[derive(Debug, Clone)]
pub struct Proof {
    /// The signer.
    pub user_id: u64,
    /// `iat`.
    pub iat: DateTime<Utc>,
    /// `amr`.
    pub amr: String,
    /// `dataToSign`.
    pub data_to_sign: String,
    /// The signature part: the single-use key.
    pub signature: String,
}

/// The URL a proof signs: `https://{Host}{path}` and `?query` when there is one.
pub fn request_url(req: &HttpRequest) -> String {
    // HTTP/1.1 sends `Host`; HTTP/2 only the URI's authority.
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_else(|| req.connection_info().host().to_owned());
    let query = req.query_string();
    if query.is_empty() {
        format!("https://{host}{}", req.path())
    } else {
        format!("https://{host}{}?{query}", req.path())
    }
}

/// The object of `fields` present in `payload`, as signed.
pub fn signed_body(payload: &Value, fields: &[&str]) -> Value {
    let mut body = Map::new();
    for field in fields {
        if let Some(value) = payload.get(*field) {
            body.insert((*field).to_owned(), value.clone());
        }
    }
    Value::Object(body)
}

/// `dataToSign`: hex SHA-256 of `{"body":…,"url":…}` as serde_json writes it (keys sorted).
pub fn data_to_sign(url: &str, body: &Value) -> String {
    let text = json!({"url": url, "body": body}).to_string();
    hex::encode(openssl::sha::sha256(text.as_bytes()))
}

/// What the user's device produces: a proof for `url` and `body`, issued at `now`.
pub fn sign_proof(
    keys: &Keys,
    user_id: u64,
    url: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<String, TreezorError> {
    let device = keys
        .devices
        .get(&user_id)
        .ok_or_else(|| TreezorError::not_found(format!("no enrolled device for user {user_id}")))?;
    let internal = |e: openssl::error::ErrorStack| TreezorError::Internal(format!("proof: {e}"));
    let header =
        json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c(&device.cert).map_err(internal)?]});
    let payload = json!({
        "trz:sca": true,
        "userType": "user",
        "userId": user_id.to_string(),
        "amr": "HYBRID_PIN",
        "iat": now.timestamp(),
        "dataToSign": data_to_sign(url, body),
    });
    jws(&device.key, &header, &payload).map_err(internal)
}

fn decode_json(part: &str) -> Result<Value, ProofFault> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| ProofFault::Parse)?;
    serde_json::from_slice(&bytes).map_err(|_| ProofFault::Parse)
}

/// Reads and checks a proof's certificate, signature and claims (the seed's External Operation
/// checks, in their order).
pub fn read_proof(keys: &Keys, proof: &str) -> Result<Proof, ProofFault> {
    let parts: Vec<&str> = proof.trim().split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return Err(ProofFault::Parse);
    };
    let header_json = decode_json(header)?;
    let claims = decode_json(payload)?;
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .map_err(|_| ProofFault::Parse)?;
    let user_id = match claims.get("userId") {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    let cert = header_json
        .get("x5c")
        .and_then(|x| x.get(0))
        .and_then(Value::as_str)
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|der| X509::from_der(&der).ok())
        .ok_or(ProofFault::WrongCertificate)?;
    let issued = user_id
        .and_then(|u| keys.devices.get(&u))
        .ok_or(ProofFault::WrongCertificate)?;
    let same = matches!((cert.to_der(), issued.cert.to_der()), (Ok(a), Ok(b)) if a == b);
    if !same {
        return Err(ProofFault::WrongCertificate);
    }
    let public = cert
        .public_key()
        .map_err(|_| ProofFault::WrongCertificate)?;
    let verified = Verifier::new(MessageDigest::sha256(), &public)
        .and_then(|mut v| {
            v.update(format!("{header}.{payload}").as_bytes())?;
            v.verify(&signature_bytes)
        })
        .unwrap_or(false);
    if !verified || header_json.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(ProofFault::Signature);
    }
    if claims.get("trz:sca") != Some(&Value::Bool(true)) {
        return Err(ProofFault::WrongSca);
    }
    if claims.get("userType").and_then(Value::as_str) != Some("user") {
        return Err(ProofFault::NotUser);
    }
    let amr = claims
        .get("amr")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !AMR_ALLOWED.contains(&amr) {
        return Err(ProofFault::AmrNotAllowed);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .ok_or(ProofFault::Parse)?;
    Ok(Proof {
        user_id: user_id.ok_or(ProofFault::Parse)?,
        iat,
        amr: amr.to_owned(),
        data_to_sign: claims
            .get("dataToSign")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        signature: (*signature).to_owned(),
    })
}

/// Checks a proof for `user_id`'s request at `url` with `body`; on success marks it used and
/// records the user's SCA.
pub fn verify(
    inner: &mut Inner,
    keys: &Keys,
    proof: &str,
    user_id: u64,
    url: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(), ProofFault> {
    let proof = read_proof(keys, proof)?;
    if proof.user_id != user_id {
        return Err(ProofFault::OtherUser);
    }
    if now - proof.iat > PROOF_MAX_AGE || proof.iat - now > PROOF_MAX_SKEW {
        return Err(ProofFault::Stale);
    }
    if proof.data_to_sign != data_to_sign(url, body) {
        return Err(ProofFault::DataMismatch);
    }
    if !inner.used_proofs.insert(proof.signature.clone()) {
        return Err(ProofFault::AlreadyUsed);
    }
    inner.record_sca(user_id, proof.iat);
    Ok(())
}

/// The proof a request carries in `X-Trz-SCA`.
pub fn header_proof(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("x-trz-sca")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Enforces `rule` on `caller`'s request at `url`: `proof` is what the request carries (header
/// or body field), `body` the object the proof must sign (`{}` for GETs).
#[allow(clippy::too_many_arguments)]
pub fn enforce(
    inner: &mut Inner,
    keys: &Keys,
    caller: &Caller,
    rule: Rule,
    proof: Option<&str>,
    url: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(), TreezorError> {
    let user_id = caller.user()?;
    if let Some(proof) = proof {
        verify(inner, keys, proof, user_id, url, body, now)
            .map_err(|fault| TreezorError::sca("sca_proof_invalid", fault.message()))?;
        // A proof on a per-session call opens the session with SCA ("a new session must be
        // open with an SCA", seed 000): the token's next per-session calls need no other.
        if rule == Rule::PerSession {
            if let Some(session) = inner.tokens.get_mut(&caller.token) {
                session.with_sca = true;
            }
        }
        return Ok(());
    }
    match rule {
        Rule::Exempt180 => {
            let fresh = inner
                .last_sca
                .get(&user_id)
                .is_some_and(|at| now - *at <= EXEMPTION);
            if fresh {
                Ok(())
            } else {
                Err(TreezorError::sca(
                    "sca_required",
                    "the user's last strong authentication is more than 180 days old: \
                     log in again with SCA or send an X-Trz-SCA proof",
                ))
            }
        }
        Rule::PerSession if caller.with_sca => Ok(()),
        Rule::PerSession => Err(TreezorError::sca(
            "sca_session_required",
            "this session was not opened with SCA: log in again or send an X-Trz-SCA proof",
        )),
        Rule::PerOperation => Err(TreezorError::sca(
            "sca_proof_required",
            "this operation needs an SCA proof for its url and body",
        )),
    }
}
