//! External Operations (seed 000:100-258): the client declares the SCA it applied to an action
//! made outside Treezor's endpoints. A declaration is scored, not refused: whatever is wrong
//! with its proof lands in `externalOperationNote` in the seed's words, and the answer is still
//! 201. Only a malformed declaration (unknown `actionName`, no `actionDate`, no `resourceIds`
//! for the wallet actions) is a 400.
//!
//! Checks, in order: the proof parses ("Parse error"), its certificate is the one issued for
//! the user ("Wrong certificate"), its signature ("Signature error"), `trz:sca` ("Wrong sca
//! value"), `userType` and the token's grant ("Wrong JWT. Grant type must be delegated end
//! user"), `amr` ("AMR not allowed"), then the delay: createdAt − scaDate or actionDate −
//! scaDate over 300 s ("Declaration delay is too long"). `dataToSign` is not checked: the
//! action happened elsewhere.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::auth::authenticate;
use super::error::TreezorError;
use super::sca::{read_proof, ProofFault};
use super::state::TreezorState;
use super::wire;

/// The actions one may declare, and whether they name wallets in `resourceIds`.
pub const ACTIONS: [(&str, bool); 11] = [
    ("externalGetBalance", true),
    ("externalOperationView90Days", true),
    ("externalOperationView", true),
    ("externalDisplayAccountDetails", true),
    ("externalGetStatement", true),
    ("externalMassPayoutOrderCreation", false),
    ("externalMassTransferOrderCreation", false),
    ("externalScheduledPayoutOrder", false),
    ("externalScheduledTransferOrder", false),
    ("externalUpdateLimitsCard", false),
    ("internalCheck", false),
];

/// The longest accepted delay between the SCA and the declaration or the action.
pub const MAX_DELAY: Duration = Duration::seconds(300);

/// A declared External Operation.
#[derive(Debug, Clone)]
pub struct ExternalOperation {
    /// `externalOperationId`.
    pub id: String,
    /// The declaring user (`None` for a program token).
    pub user_id: Option<u64>,
    /// `actionName`.
    pub action_name: String,
    /// `scaProof` as sent.
    pub sca_proof: String,
    /// `actionDate`.
    pub action_date: DateTime<Utc>,
    /// `resourceIds`.
    pub resource_ids: Vec<String>,
    /// `createdAt`.
    pub created_at: DateTime<Utc>,
    /// The proof's `iat`, when it could be read.
    pub sca_date: Option<DateTime<Utc>>,
    /// The proof's `amr`.
    pub amr: String,
    /// `externalOperationNote` (empty when all is well).
    pub note: String,
}

impl ExternalOperation {
    /// The object as the seed shows it.
    pub fn json(&self) -> Value {
        json!({
            "externalOperationId": self.id,
            "actionName": self.action_name,
            "scaProof": self.sca_proof,
            "actionDate": wire::rfc3339(self.action_date),
            "resourceIds": self.resource_ids,
            "createdAt": wire::rfc3339(self.created_at),
            "scaDate": self.sca_date.map(wire::rfc3339),
            "amr": self.amr,
            "externalOperationNote": self.note,
            "externalOperationResponseCode": 0,
        })
    }
}

fn note(fault: ProofFault) -> &'static str {
    match fault {
        ProofFault::WrongSca => "Wrong sca value",
        ProofFault::NotUser => "Wrong JWT. Grant type must be delegated end user",
        ProofFault::WrongCertificate | ProofFault::OtherUser => "Wrong certificate",
        ProofFault::Signature => "Signature error",
        ProofFault::AmrNotAllowed => "AMR not allowed",
        ProofFault::Stale => "Declaration delay is too long",
        ProofFault::Parse | ProofFault::DataMismatch | ProofFault::AlreadyUsed => "Parse error",
    }
}

fn ids(value: Option<&Value>) -> Option<Vec<String>> {
    value?
        .as_array()?
        .iter()
        .map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// `POST /core-connect/sca/externalOperations`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_write()?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))?;
    let action = payload
        .get("actionName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some((action, wallets)) = ACTIONS.iter().find(|(name, _)| *name == action) else {
        return Err(TreezorError::invalid(format!(
            "unknown actionName '{action}'"
        )));
    };
    let action_date = payload
        .get("actionDate")
        .and_then(Value::as_str)
        .ok_or_else(|| TreezorError::invalid("actionDate is required"))?;
    let action_date = wire::parse_rfc3339(action_date)
        .ok_or_else(|| TreezorError::invalid("actionDate must be RFC 3339"))?;
    let resource_ids = ids(payload.get("resourceIds")).unwrap_or_default();
    if *wallets && resource_ids.is_empty() {
        return Err(TreezorError::invalid(format!(
            "resourceIds (walletIds) are required for {action}"
        )));
    }
    let sca_proof = payload
        .get("scaProof")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let read = read_proof(&state.keys, &sca_proof);
    let (sca_date, amr) = match &read {
        Ok(proof) => (Some(proof.iat), proof.amr.clone()),
        Err(_) => (None, String::new()),
    };
    let note = match (&read, caller.user_id) {
        (Err(fault), _) => note(*fault),
        (Ok(_), None) => note(ProofFault::NotUser),
        (Ok(proof), Some(user)) if proof.user_id != user => note(ProofFault::OtherUser),
        (Ok(proof), Some(_)) => {
            if now - proof.iat > MAX_DELAY || action_date - proof.iat > MAX_DELAY {
                "Declaration delay is too long"
            } else {
                ""
            }
        }
    };
    if let (Ok(proof), true) = (&read, note.is_empty()) {
        inner.record_sca(proof.user_id, proof.iat);
    }
    let op = ExternalOperation {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: caller.user_id,
        action_name: (*action).to_owned(),
        sca_proof,
        action_date,
        resource_ids,
        created_at: now,
        sca_date,
        amr,
        note: note.to_owned(),
    };
    let answer = op.json();
    inner.external_operations.push(op);
    Ok(HttpResponse::Created().json(answer))
}

/// `PUT /core-connect/sca/externalOperation/{id}` (the seed's singular; plural too):
/// `{"resourcesIds":[…]}` (the seed's spelling; `resourceIds` too) replaces the list.
pub async fn update(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    caller.require_write()?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))?;
    let resource_ids = ids(payload.get("resourcesIds"))
        .or_else(|| ids(payload.get("resourceIds")))
        .ok_or_else(|| TreezorError::invalid("resourcesIds must be an array of ids"))?;
    let op = inner
        .external_operations
        .iter_mut()
        .find(|o| o.id == path.as_str() && o.user_id == caller.user_id)
        .ok_or_else(|| {
            TreezorError::not_found(format!("no externalOperation {}", path.as_str()))
        })?;
    op.resource_ids = resource_ids;
    Ok(HttpResponse::Ok().json(op.json()))
}
