//! Treezor payments with their per-operation SCA (seed 000, "individual operations"): a
//! transfer to another wallet, a beneficiary, a payout to it. Each is prepared first
//! ([`Signable`]: the call's URL, its payload, and exactly the fields the seed says the proof
//! signs), the user's device signs it, and the payment is sent once with the proof — in
//! `X-Trz-SCA` for transfers and payouts, in the body's `sca` field for beneficiaries.
//!
//! Amounts travel as JSON numbers written from the exact decimal (`12.50`), never through a
//! float; the signed body is that payload read back as JSON, which is what Treezor reads.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::client::{Call, ProofTransport};
use super::connector::TreezorConnector;
use super::wire::Id;
use crate::bank::retry::NoRetries;
use crate::bank::{BankError, BankErrorKind, BankResponse, TokenSource};
use crate::model::{BankPaymentStatus, Iban, Money, PaymentStatus};

/// What the user pays (serialized too: a planned payment keeps it between two requests).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TreezorOrder {
    /// `POST /v1/transfers`: wallet to wallet (same BIC), instant.
    Transfer {
        /// The debited wallet.
        wallet_id: String,
        /// The credited wallet.
        beneficiary_wallet_id: String,
        /// How much (EUR).
        amount: Money,
        /// What the beneficiary reads.
        label: String,
    },
    /// `POST /v1/beneficiaries`: a SEPA beneficiary for payouts.
    Beneficiary {
        /// The Treezor user it belongs to.
        user_id: String,
        /// The beneficiary's name.
        name: String,
        /// Their IBAN.
        iban: Iban,
        /// Their BIC.
        bic: String,
    },
    /// `POST /v1/payouts`: a SEPA credit transfer to a beneficiary.
    Payout {
        /// The debited wallet.
        wallet_id: String,
        /// The beneficiary.
        beneficiary_id: String,
        /// How much (EUR).
        amount: Money,
        /// What the beneficiary reads.
        label: String,
        /// The end-to-end id.
        end_to_end_id: String,
    },
}

/// A payment ready to be signed: the call as it will be sent, and what the proof covers.
#[derive(Debug, Clone)]
pub struct Signable {
    endpoint: &'static str,
    path: &'static str,
    /// The full URL the proof names.
    pub url: Url,
    /// The payload as it will be sent.
    pub payload: Value,
    /// The fields the proof signs (seed 000's list, those present).
    pub signed: Value,
    transport: ProofTransport,
}

impl Signable {
    /// What the user's device signs (seed 001:12109-12121): `{"iat": ms, "url", "body"}`.
    pub fn data_to_sign(&self, now: DateTime<Utc>) -> String {
        serde_json::json!({
            "iat": now.timestamp_millis(),
            "url": self.url.as_str(),
            "body": self.signed,
        })
        .to_string()
    }
}

/// What Treezor made of a sent payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPayment {
    /// `transferId`, `beneficiary id` or `payoutId`.
    pub id: String,
    /// Where it stands.
    pub status: BankPaymentStatus,
}

/// An exact decimal as a JSON number (`12.50` stays `12.50` in the text sent).
fn number(money: &Money) -> Result<Value, serde_json::Error> {
    serde_json::from_str(&money.to_decimal().to_string())
}

/// A Treezor id as the `/v1` payloads carry it: a number when it is one (the seed's samples),
/// else the string (UUIDs).
fn id(text: &str) -> Value {
    text.parse::<u64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

/// The fields of `payload` a proof signs, in the order Treezor reads them (keys sorted).
fn pick(payload: &Value, fields: &[&str]) -> Value {
    let mut signed = serde_json::Map::new();
    for field in fields {
        if let Some(v) = payload.get(*field) {
            signed.insert((*field).to_owned(), v.clone());
        }
    }
    Value::Object(signed)
}

/// A Treezor status word as a payment status.
fn status(word: &str) -> BankPaymentStatus {
    let status = match word {
        "VALIDATED" => PaymentStatus::Executed,
        "PENDING" => PaymentStatus::Pending,
        "CANCELED" => PaymentStatus::Cancelled,
        _ => PaymentStatus::Rejected,
    };
    BankPaymentStatus {
        status,
        code: word.to_owned(),
        reason: None,
        awaits_confirmation: false,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransferAnswer {
    #[serde(default)]
    transfers: Vec<TransferItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransferItem {
    transfer_id: Id,
    transfer_status: String,
}

#[derive(Deserialize)]
struct BeneficiaryAnswer {
    #[serde(default)]
    beneficiaries: Vec<BeneficiaryItem>,
}

#[derive(Deserialize)]
struct BeneficiaryItem {
    id: Id,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayoutAnswer {
    #[serde(default)]
    payouts: Vec<PayoutItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayoutItem {
    payout_id: Id,
    payout_status: String,
}

impl TreezorConnector {
    /// Prepares `order` for the user's signature.
    pub fn signable(&self, order: &TreezorOrder) -> Result<Signable, BankError> {
        let encode = |e: serde_json::Error| {
            self.client()
                .bad_response("-", "amount".into(), format!("cannot encode: {e}"))
        };
        let (endpoint, path, payload, fields, transport): (_, _, Value, &[&str], _) = match order {
            TreezorOrder::Transfer {
                wallet_id,
                beneficiary_wallet_id,
                amount,
                label,
            } => (
                "POST /v1/transfers",
                "/v1/transfers",
                serde_json::json!({
                    "walletId": id(wallet_id),
                    "beneficiaryWalletId": id(beneficiary_wallet_id),
                    "amount": number(amount).map_err(encode)?,
                    "currency": amount.currency.as_str(),
                    "transferTypeId": 1,
                    "label": label,
                }),
                &[
                    "walletId",
                    "beneficiaryWalletId",
                    "amount",
                    "currency",
                    "transferTypeId",
                ],
                ProofTransport::Header,
            ),
            TreezorOrder::Beneficiary {
                user_id,
                name,
                iban,
                bic,
            } => (
                "POST /v1/beneficiaries",
                "/v1/beneficiaries",
                serde_json::json!({
                    "userId": id(user_id),
                    "name": name,
                    "iban": iban.as_str(),
                    "bic": bic,
                    "usableForSct": true,
                }),
                &["userId", "name", "address", "iban", "bic", "usableForSct"],
                ProofTransport::BodyField,
            ),
            TreezorOrder::Payout {
                wallet_id,
                beneficiary_id,
                amount,
                label,
                end_to_end_id,
            } => (
                "POST /v1/payouts",
                "/v1/payouts",
                serde_json::json!({
                    "walletId": id(wallet_id),
                    "beneficiaryId": id(beneficiary_id),
                    "amount": number(amount).map_err(encode)?,
                    "currency": amount.currency.as_str(),
                    "label": label,
                    "endToEndId": end_to_end_id,
                }),
                &[
                    "walletId",
                    "amount",
                    "currency",
                    "bankaccountId",
                    "beneficiaryId",
                ],
                ProofTransport::Header,
            ),
        };
        Ok(Signable {
            endpoint,
            path,
            url: self.client().url(path, &[])?,
            signed: pick(&payload, fields),
            payload,
            transport,
        })
    }

    /// Sends a prepared payment once, with the user's proof. Never retried: a second send
    /// would be a second payment, and the proof is single use.
    pub async fn send_signed(
        &self,
        token: &dyn TokenSource,
        signable: &Signable,
        proof: &SecretString,
    ) -> Result<BankResponse<SentPayment>, BankError> {
        let call = Call {
            method: awc::http::Method::POST,
            endpoint: signable.endpoint,
            path: signable.path.into(),
            query: Vec::new(),
            body: Some(signable.payload.clone()),
            token,
            proof: Some((proof, signable.transport)),
            gate: &NoRetries,
        };
        let empty = || {
            self.client().bad_response(
                signable.endpoint,
                ".".into(),
                "no object in the answer".into(),
            )
        };
        let (value, exchanges) = match signable.path {
            "/v1/transfers" => {
                let (answer, exchanges) = self.client().call::<TransferAnswer>(call).await?;
                let item = answer
                    .and_then(|a| a.transfers.into_iter().next())
                    .ok_or_else(empty)?;
                let sent = SentPayment {
                    id: item.transfer_id.0,
                    status: status(&item.transfer_status),
                };
                (sent, exchanges)
            }
            "/v1/beneficiaries" => {
                let (answer, exchanges) = self.client().call::<BeneficiaryAnswer>(call).await?;
                let item = answer
                    .and_then(|a| a.beneficiaries.into_iter().next())
                    .ok_or_else(empty)?;
                let sent = SentPayment {
                    id: item.id.0,
                    status: status("VALIDATED"),
                };
                (sent, exchanges)
            }
            _ => {
                let (answer, exchanges) = self.client().call::<PayoutAnswer>(call).await?;
                let item = answer
                    .and_then(|a| a.payouts.into_iter().next())
                    .ok_or_else(empty)?;
                let sent = SentPayment {
                    id: item.payout_id.0,
                    status: status(&item.payout_status),
                };
                (sent, exchanges)
            }
        };
        Ok(BankResponse { value, exchanges })
    }

    /// Where a payout stands (`GET /v1/payouts/{id}`).
    pub async fn payout_status(
        &self,
        token: &dyn TokenSource,
        payout_id: &str,
    ) -> Result<BankResponse<BankPaymentStatus>, BankError> {
        self.status_of::<PayoutAnswer>(token, "GET /v1/payouts/{id}", "payouts", payout_id, |a| {
            a.payouts.into_iter().next().map(|p| p.payout_status)
        })
        .await
    }

    /// Reads one Treezor object's status word (`GET /v1/{collection}/{id}`), `word` picking it
    /// from the answer.
    pub(super) async fn status_of<T: serde::de::DeserializeOwned>(
        &self,
        token: &dyn TokenSource,
        endpoint: &'static str,
        collection: &str,
        id: &str,
        word: impl FnOnce(T) -> Option<String>,
    ) -> Result<BankResponse<BankPaymentStatus>, BankError> {
        // The id came from Treezor; it goes into a path, so only its own shape.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(self.client().bad_response(
                endpoint,
                "id".into(),
                "not a Treezor id".into(),
            ));
        }
        let (answer, exchanges) = self
            .client()
            .call::<T>(Call {
                method: awc::http::Method::GET,
                endpoint,
                path: format!("/v1/{collection}/{id}"),
                query: Vec::new(),
                body: None,
                token,
                proof: None,
                gate: &NoRetries,
            })
            .await?;
        let word = answer.and_then(word).ok_or_else(|| {
            self.client().bad_response(
                endpoint,
                ".".into(),
                format!("no {collection} object in the answer"),
            )
        })?;
        Ok(BankResponse {
            value: status(&word),
            exchanges,
        })
    }
}

/// Whether an error is Treezor's refusal of the proof (the payment was not made).
pub fn proof_refused(error: &BankError) -> bool {
    matches!(error.kind, BankErrorKind::ScaRequired { .. })
}
