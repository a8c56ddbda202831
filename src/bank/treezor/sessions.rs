//! Treezor SCA sessions opened with a device proof, and External Operations (seed 000).
//!
//! The data to sign is that of `GET /v1/wallets?userId=…`, the per-session call that opens the
//! session: `{"iat": <ms>, "url": <the call's full URL>, "body": {}}` (seed 001:12109-12121).
//! The proof goes in `X-Trz-SCA` on that call only; Treezor then counts the token's session as
//! opened with SCA.

use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::client::{Call, ProofTransport};
use super::connector::{rfc3339, TreezorConnector};
use super::{map, wire};
use crate::bank::retry::NoRetries;
use crate::bank::sessions::{Approval, Declaration, Declared, ScaSessions, SessionChallenge};
use crate::bank::{BankError, BankResponse, Connector, TokenSource};
use crate::model::Account;

/// An External Operation as Treezor answers it (seed 000: "Structure of an External
/// Operation").
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExternalOperation {
    external_operation_id: wire::Id,
    #[serde(default)]
    external_operation_note: Option<String>,
}

const WALLETS: &str = "GET /v1/wallets";
const DECLARE: &str = "POST /core-connect/sca/externalOperations";

/// A cross-device approval as Treezor answers it (seed 001:12159-12187).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScaOperation {
    sca_operation_request_id: wire::Id,
    status: String,
    #[serde(default)]
    sca_proof: Option<String>,
}

const SCA_OPERATIONS: &str = "POST /core-connect/sca/scaOperations";
const SCA_OPERATION: &str = "GET /core-connect/sca/scaOperations/{id}";

impl TreezorConnector {
    /// Queues `data` (the JSON text the device signs) for the user's approval in Treezor's
    /// app (`POST /core-connect/sca/scaOperations`); returns its `scaOperationRequestId`.
    pub(super) async fn queue_approval(
        &self,
        token: &dyn TokenSource,
        data: &str,
        action_name: &str,
        description: &str,
    ) -> Result<BankResponse<String>, BankError> {
        let data: serde_json::Value = serde_json::from_str(data).map_err(|e| {
            self.client()
                .bad_response(SCA_OPERATIONS, "dataToSign".into(), e.to_string())
        })?;
        let body = serde_json::json!({
            "dataToSign": data,
            "actionName": action_name,
            "actionDescription": description,
            "requestBy": "",
        });
        let (answer, exchanges) = self
            .client()
            .call::<ScaOperation>(Call {
                method: awc::http::Method::POST,
                endpoint: SCA_OPERATIONS,
                path: "/core-connect/sca/scaOperations".into(),
                query: Vec::new(),
                body: Some(body),
                token,
                proof: None,
                gate: &NoRetries,
            })
            .await?;
        let answer = answer.ok_or_else(|| {
            self.client()
                .bad_response(SCA_OPERATIONS, ".".into(), "an empty answer".into())
        })?;
        Ok(BankResponse {
            value: answer.sca_operation_request_id.0,
            exchanges,
        })
    }
}

impl ScaSessions for TreezorConnector {
    fn request_approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        now: DateTime<Utc>,
    ) -> LocalBoxFuture<'a, Result<BankResponse<String>, BankError>> {
        async move {
            let data = self.session_challenge(token, now)?.data;
            self.queue_approval(
                token,
                &data,
                "externalDisplayAccountDetails",
                "Open a session to read your accounts",
            )
            .await
        }
        .boxed_local()
    }

    fn approval<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        reference: &'a str,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Approval>, BankError>> {
        async move {
            // The reference came from Treezor; it goes into a path, so only its own shape.
            if reference.is_empty()
                || !reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(self.client().bad_response(
                    SCA_OPERATION,
                    "scaOperationRequestId".into(),
                    "not a Treezor id".into(),
                ));
            }
            let (answer, exchanges) = self
                .client()
                .call::<ScaOperation>(Call {
                    method: awc::http::Method::GET,
                    endpoint: SCA_OPERATION,
                    path: format!("/core-connect/sca/scaOperations/{reference}"),
                    query: Vec::new(),
                    body: None,
                    token,
                    proof: None,
                    gate: &crate::bank::retry::FreeRetries,
                })
                .await?;
            let answer = answer.ok_or_else(|| {
                self.client()
                    .bad_response(SCA_OPERATION, ".".into(), "an empty answer".into())
            })?;
            let value = match (answer.status.as_str(), answer.sca_proof) {
                ("VALIDATED", Some(proof)) if !proof.is_empty() => {
                    Approval::Approved(SecretString::from(proof))
                }
                ("VALIDATED", _) => {
                    return Err(self.client().bad_response(
                        SCA_OPERATION,
                        "scaProof".into(),
                        "validated without a proof".into(),
                    ))
                }
                ("REFUSED", _) => Approval::Refused,
                ("EXPIRED", _) => Approval::Expired,
                _ => Approval::Pending,
            };
            Ok(BankResponse { value, exchanges })
        }
        .boxed_local()
    }

    fn session_challenge(
        &self,
        token: &dyn TokenSource,
        now: DateTime<Utc>,
    ) -> Result<SessionChallenge, BankError> {
        let user = self.user_id(token, WALLETS)?;
        let url = self.client().url("/v1/wallets", &[("userId", user)])?;
        let data = serde_json::json!({
            "iat": now.timestamp_millis(),
            "url": url.as_str(),
            "body": {},
        });
        Ok(SessionChallenge {
            data: data.to_string(),
        })
    }

    fn open_session<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        proof: &'a SecretString,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Vec<Account>>, BankError>> {
        async move {
            let user = self.user_id(token, WALLETS)?;
            let (wallets, exchanges) = self
                .client()
                .call::<wire::Wallets>(Call {
                    method: awc::http::Method::GET,
                    endpoint: WALLETS,
                    path: "/v1/wallets".into(),
                    query: vec![("userId", user)],
                    body: None,
                    token,
                    proof: Some((proof, ProofTransport::Header)),
                    // A proof is single use: a retry would present it twice.
                    gate: &NoRetries,
                })
                .await?;
            let wallets = wallets.map(|w| w.wallets).unwrap_or_default();
            let value = map::accounts(&wallets)
                .map_err(|e| self.client().bad_response(WALLETS, e.field, e.message))?;
            Ok(BankResponse { value, exchanges })
        }
        .boxed_local()
    }

    fn declare<'a>(
        &'a self,
        token: &'a dyn TokenSource,
        declaration: &'a Declaration,
    ) -> LocalBoxFuture<'a, Result<BankResponse<Declared>, BankError>> {
        async move {
            let body = serde_json::json!({
                "actionName": declaration.action.action_name(),
                "scaProof": declaration.proof.expose_secret(),
                "actionDate": rfc3339(declaration.action_date, self.bank().time_zone),
                "resourceIds": declaration.resource_ids,
            });
            let (answer, exchanges) = self
                .client()
                .call::<ExternalOperation>(Call {
                    method: awc::http::Method::POST,
                    endpoint: DECLARE,
                    path: "/core-connect/sca/externalOperations".into(),
                    query: Vec::new(),
                    body: Some(body),
                    token,
                    proof: None,
                    gate: &NoRetries,
                })
                .await?;
            let answer = answer.ok_or_else(|| {
                self.client()
                    .bad_response(DECLARE, ".".into(), "an empty answer".into())
            })?;
            let note = answer
                .external_operation_note
                .filter(|n| !n.trim().is_empty());
            if let Some(note) = &note {
                // Passerelle declares within the delay by construction: a note means a rule
                // of Treezor's was not met, which someone must look at.
                tracing::error!(
                    bank = %self.bank().id,
                    action = declaration.action.action_name(),
                    external_operation = %answer.external_operation_id.0,
                    note = note.as_str(),
                    "Treezor scored an External Operation with a note"
                );
            }
            Ok(BankResponse {
                value: Declared {
                    id: answer.external_operation_id.0,
                    note,
                },
                exchanges,
            })
        }
        .boxed_local()
    }
}
