//! Treezor's webhooks (seed 001:1603-1700), verified: the envelope
//! `{"webhook", "object", "object_id", "object_payload", "webhook_created_at", "webhook_id",
//! "object_payload_signature", "auth_key"}` POSTed to Passerelle.
//!
//! The seed does not say how `object_payload_signature` is computed; Passerelle's contract
//! (which the simulator implements, `sandbox::treezor::webhooks`) is
//! `base64(HMAC-SHA256(webhook secret, the exact JSON text of object_payload as sent))`. The
//! envelope is parsed with `object_payload` kept as raw text ([`RawValue`]), so the HMAC runs
//! over the bytes that travelled, not over a re-serialization; it is compared in constant time.
//!
//! Only `object_payload` is signed. The accounts an event concerns are therefore read from the
//! signed payload alone: the unsigned `webhook` kind only says which of its lists to read
//! (`balance.update` → `balances[].walletId`), and a relabelled kind finds no such list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::bank::connector::{ProviderEvent, ProviderWebhooks};
use crate::bank::{BankError, BankErrorDetails, BankErrorKind};
use crate::registry::BankId;

/// What the errors name as the endpoint: the call came in, Passerelle did not make it.
const ENDPOINT: &str = "POST /webhooks/providers/{bank_id}";

/// The longest `webhook_id` and `webhook` kept (Treezor's are a UUID and a short name).
const MAX_FIELD_LEN: usize = 128;

/// The verifier of one Treezor program's webhooks, holding its webhook secret.
pub struct TreezorWebhooks {
    bank: BankId,
    secret: SecretString,
}

impl TreezorWebhooks {
    /// A verifier of `bank`'s webhooks signed with `secret`.
    pub fn new(bank: BankId, secret: SecretString) -> Self {
        Self { bank, secret }
    }

    fn error(&self, webhook_id: Option<&str>, kind: BankErrorKind) -> BankError {
        BankErrorDetails {
            bank: self.bank.clone(),
            endpoint: ENDPOINT.to_owned(),
            request_id: webhook_id.unwrap_or("-").to_owned(),
            status: None,
            // The body is personal data and may be forged: it is neither kept nor logged.
            raw_body: None,
            retry_after: None,
            kind,
        }
        .into()
    }

    fn refused(&self, webhook_id: Option<&str>, message: &str) -> BankError {
        self.error(
            webhook_id,
            BankErrorKind::Rejected {
                status: 401,
                message: message.to_owned(),
            },
        )
    }

    fn malformed(&self, webhook_id: Option<&str>, field: &str, message: String) -> BankError {
        self.error(
            webhook_id,
            BankErrorKind::BadResponse {
                field: field.to_owned(),
                message,
            },
        )
    }

    /// Whether `signature` is the base64 HMAC-SHA256 of `payload` under the secret, compared
    /// in constant time. `Err` holds why not.
    fn check(&self, payload: &str, signature: &str) -> Result<(), &'static str> {
        let given = STANDARD
            .decode(signature.trim())
            .map_err(|_| "object_payload_signature is not base64")?;
        let expected = hmac_sha256(self.secret.expose_secret(), payload)
            .map_err(|_| "the HMAC could not be computed")?;
        if given.len() == expected.len() && openssl::memcmp::eq(&given, &expected) {
            Ok(())
        } else {
            Err("object_payload_signature does not match object_payload (forged, tampered with, or signed with another secret)")
        }
    }
}

/// The envelope as it comes; `object_payload` is kept as the text that was signed.
#[derive(Deserialize)]
struct Envelope<'a> {
    webhook: Option<String>,
    #[serde(borrow)]
    object_payload: Option<&'a RawValue>,
    webhook_id: Option<String>,
    object_payload_signature: Option<String>,
}

/// `HMAC-SHA256(secret, text)`.
fn hmac_sha256(secret: &str, text: &str) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let key = PKey::hmac(secret.as_bytes())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(text.as_bytes())?;
    signer.sign_to_vec()
}

impl ProviderWebhooks for TreezorWebhooks {
    fn verify(
        &self,
        _headers: &[(String, String)],
        body: &bytes::Bytes,
    ) -> Result<ProviderEvent, BankError> {
        // serde's message may quote a value from the body: only where it failed is kept.
        let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| {
            let what = format!(
                "not a webhook envelope ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            );
            self.malformed(None, ".", what)
        })?;
        let id = envelope.webhook_id.as_deref();
        let payload = envelope
            .object_payload
            .ok_or_else(|| self.malformed(id, "object_payload", "missing".into()))?;
        let signature = envelope
            .object_payload_signature
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| self.refused(id, "unsigned: no object_payload_signature"))?;
        self.check(payload.get(), signature)
            .map_err(|why| self.refused(id, why))?;
        let webhook_id = required(envelope.webhook_id.as_deref())
            .map_err(|why| self.malformed(None, "webhook_id", why))?;
        let kind = required(envelope.webhook.as_deref())
            .map_err(|why| self.malformed(Some(webhook_id), "webhook", why))?;
        let payload: Value = serde_json::from_str(payload.get()).map_err(|e| {
            let what = format!("not JSON ({:?} error)", e.classify());
            self.malformed(Some(webhook_id), "object_payload", what)
        })?;
        Ok(ProviderEvent {
            id: webhook_id.to_owned(),
            kind: kind.to_owned(),
            resource_ids: wallets_of(kind, &payload),
            payload,
        })
    }
}

/// A present, non-empty, not too long string field.
fn required(value: Option<&str>) -> Result<&str, String> {
    match value.map(str::trim) {
        None | Some("") => Err("missing".into()),
        Some(v) if v.len() > MAX_FIELD_LEN => Err(format!("longer than {MAX_FIELD_LEN} bytes")),
        Some(v) => Ok(v),
    }
}

/// The wallets (`walletId`, and a transfer's `beneficiaryWalletId`) an event of `kind`
/// concerns, read from the signed payload's list for that object; none for a kind Passerelle
/// does not act on.
pub fn wallets_of(kind: &str, payload: &Value) -> Vec<String> {
    let (list, fields): (&str, &[&str]) = match kind {
        "balance.update" => ("balances", &["walletId"]),
        "cardtransaction.create" => ("cardtransactions", &["walletId"]),
        "transfer.create" | "transfer.update" => {
            ("transfers", &["walletId", "beneficiaryWalletId"])
        }
        k if k.starts_with("payin.") => ("payins", &["walletId"]),
        k if k.starts_with("payout.") => ("payouts", &["walletId"]),
        _ => return Vec::new(),
    };
    let mut wallets: Vec<String> = payload[list]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| fields.iter().filter_map(|f| wallet_id(&item[*f])))
        .collect();
    wallets.sort();
    wallets.dedup();
    wallets
}

/// A `walletId` as Treezor writes it (a number or a string of digits), as the connector keys
/// accounts (`bank_resource_id`); `0` and blanks name no wallet.
fn wallet_id(value: &Value) -> Option<String> {
    let id = match value {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    (!id.is_empty() && id != "0").then_some(id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec-treezor-test";

    fn verifier() -> TreezorWebhooks {
        TreezorWebhooks::new(
            "sandbox-treezor".parse().unwrap(),
            SecretString::from(SECRET.to_owned()),
        )
    }

    fn sign(secret: &str, text: &str) -> String {
        STANDARD.encode(hmac_sha256(secret, text).unwrap())
    }

    /// An envelope around `payload` (as text), signed `signature`.
    fn envelope(kind: &str, payload: &str, signature: Option<&str>) -> bytes::Bytes {
        let signature = signature
            .map(|s| format!(",\"object_payload_signature\":\"{s}\""))
            .unwrap_or_default();
        bytes::Bytes::from(format!(
            "{{\"webhook\":\"{kind}\",\"object\":\"balance\",\"object_id\":\"10\",\
             \"object_payload\":{payload},\"webhook_created_at\":17258834731609,\
             \"webhook_id\":\"49383fa6-f72e-43de-a288-506dc0009ca6\"{signature},\
             \"auth_key\":\"true\"}}"
        ))
    }

    // Spaced as Treezor may send it: the signature covers these exact bytes.
    const BALANCE: &str = r#"{"balances": [{"walletId": 10, "currentBalance": 12.5}]}"#;

    fn kind_of(e: &BankError) -> (&'static str, String) {
        match &e.kind {
            BankErrorKind::Rejected { status, message } => {
                assert_eq!(*status, 401);
                ("refused", message.clone())
            }
            BankErrorKind::BadResponse { field, .. } => ("malformed", field.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_well_signed_webhook_is_the_event_with_its_wallets() {
        let body = envelope("balance.update", BALANCE, Some(&sign(SECRET, BALANCE)));
        let event = verifier().verify(&[], &body).unwrap();
        assert_eq!(event.id, "49383fa6-f72e-43de-a288-506dc0009ca6");
        assert_eq!(event.kind, "balance.update");
        assert_eq!(event.payload["balances"][0]["currentBalance"], 12.5);
        assert_eq!(event.resource_ids, ["10"]);
    }

    #[test]
    fn a_signature_made_with_another_secret_is_refused() {
        let body = envelope("balance.update", BALANCE, Some(&sign("guess", BALANCE)));
        let e = verifier().verify(&[], &body).unwrap_err();
        let (what, message) = kind_of(&e);
        assert_eq!(what, "refused");
        assert!(message.contains("does not match"), "{message}");
        assert!(!e.to_string().contains(SECRET));
    }

    #[test]
    fn a_payload_changed_after_signing_is_refused() {
        let signature = sign(SECRET, BALANCE);
        let tampered = BALANCE.replace("12.5", "99999");
        let e = verifier()
            .verify(
                &[],
                &envelope("balance.update", &tampered, Some(&signature)),
            )
            .unwrap_err();
        assert_eq!(kind_of(&e).0, "refused");
        // Re-serializing would lose the spaces: the signature is over the text as sent.
        let compact = serde_json::from_str::<Value>(BALANCE).unwrap().to_string();
        let e = verifier()
            .verify(&[], &envelope("balance.update", &compact, Some(&signature)))
            .unwrap_err();
        assert_eq!(kind_of(&e).0, "refused");
    }

    #[test]
    fn an_unsigned_webhook_is_refused() {
        for signature in [None, Some(""), Some("not base64!")] {
            let e = verifier()
                .verify(&[], &envelope("balance.update", BALANCE, signature))
                .unwrap_err();
            let (what, message) = kind_of(&e);
            assert_eq!(what, "refused", "{signature:?}");
            assert!(
                message.contains("unsigned") || message.contains("base64"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_malformed_envelope_names_what_is_wrong_without_quoting_it() {
        let e = verifier()
            .verify(&[], &bytes::Bytes::from_static(b"{\"webhook\": 5}"))
            .unwrap_err();
        assert_eq!(kind_of(&e), ("malformed", ".".into()));
        assert!(!e.to_string().contains('5'), "{e}");
        let e = verifier()
            .verify(&[], &bytes::Bytes::from_static(b"not json"))
            .unwrap_err();
        assert_eq!(kind_of(&e).0, "malformed");
        let no_payload = bytes::Bytes::from_static(b"{\"webhook_id\":\"x\"}");
        let e = verifier().verify(&[], &no_payload).unwrap_err();
        assert_eq!(kind_of(&e), ("malformed", "object_payload".into()));
        let no_kind = bytes::Bytes::from(format!(
            "{{\"object_payload\":{BALANCE},\"webhook_id\":\"x\",\"object_payload_signature\":\"{}\"}}",
            sign(SECRET, BALANCE)
        ));
        let e = verifier().verify(&[], &no_kind).unwrap_err();
        assert_eq!(kind_of(&e), ("malformed", "webhook".into()));
    }

    #[test]
    fn each_kind_names_its_wallets_from_the_payload() {
        let transfer = serde_json::json!({"transfers": [
            {"walletId": "10", "beneficiaryWalletId": "30"},
            {"walletId": 10, "beneficiaryWalletId": 0},
        ]});
        assert_eq!(wallets_of("transfer.update", &transfer), ["10", "30"]);
        let payin = serde_json::json!({"payins": [{"walletId": "878744"}]});
        assert_eq!(wallets_of("payin.update", &payin), ["878744"]);
        let card = serde_json::json!({"cardtransactions": [{"walletId": "10"}]});
        assert_eq!(wallets_of("cardtransaction.create", &card), ["10"]);
        // The unsigned kind relabelled: the signed payload has no such list.
        assert!(wallets_of("transfer.create", &card).is_empty());
        assert!(wallets_of("card.lock", &card).is_empty());
    }
}
