//! Cross-device approval (001:12087-12239): the web app queues an operation for the user to
//! sign (`POST /core-connect/sca/scaOperations`), polls it (`GET …/{id}`), and the user's
//! enrolled device (here the device stand-in page, or the test handle) approves or refuses it.
//! On approval the proof is made for the `{url, body}` of the queued `dataToSign`, issued at the
//! approval. PENDING turns EXPIRED after 5 minutes (sandbox choice: the seed gives no expiry).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::auth::authenticate;
use super::error::TreezorError;
use super::keys::Keys;
use super::sca::sign_proof;
use super::state::{Inner, TreezorState};
use super::wire;

/// How long an operation waits for the device.
pub const PENDING_TTL: Duration = Duration::minutes(5);

/// Where an operation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaStatus {
    /// Waiting for the device.
    Pending,
    /// Signed: `scaProof` is set.
    Validated,
    /// The user refused.
    Refused,
    /// Nobody answered in time.
    Expired,
}

impl ScaStatus {
    /// The wire value.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Validated => "VALIDATED",
            Self::Refused => "REFUSED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// A queued operation.
#[derive(Debug, Clone)]
pub struct ScaOperation {
    /// `scaOperationRequestId`.
    pub id: String,
    /// Who must sign.
    pub user_id: u64,
    /// `dataToSign` as queued (`{iat, url, body}`).
    pub data_to_sign: Value,
    /// `actionName`.
    pub action_name: String,
    /// `actionDescription`, shown to the user.
    pub action_description: String,
    /// When it was queued.
    pub created: DateTime<Utc>,
    /// Its status.
    pub status: ScaStatus,
    /// When it was approved or refused.
    pub answered: Option<DateTime<Utc>>,
    /// The proof, once approved.
    pub proof: Option<String>,
}

impl ScaOperation {
    /// The wire object.
    pub fn json(&self) -> Value {
        let at = |s: ScaStatus| {
            self.answered
                .filter(|_| self.status == s)
                .map(wire::rfc3339)
        };
        json!({
            "scaOperationRequestId": self.id,
            "dataToSign": self.data_to_sign,
            "actionName": self.action_name,
            "actionDescription": self.action_description,
            "createdAt": wire::rfc3339(self.created),
            "status": self.status.wire(),
            "validatedAt": at(ScaStatus::Validated),
            "refusedAt": at(ScaStatus::Refused),
            "scaProof": self.proof,
        })
    }
}

/// Expires the operations left PENDING too long.
pub fn expire(inner: &mut Inner, now: DateTime<Utc>) {
    for op in &mut inner.sca_operations {
        if op.status == ScaStatus::Pending && now - op.created >= PENDING_TTL {
            op.status = ScaStatus::Expired;
        }
    }
}

fn pending<'a>(inner: &'a mut Inner, id: &str) -> Result<&'a mut ScaOperation, TreezorError> {
    let op = inner
        .sca_operations
        .iter_mut()
        .find(|o| o.id == id)
        .ok_or_else(|| TreezorError::not_found(format!("no scaOperation {id}")))?;
    if op.status != ScaStatus::Pending {
        return Err(TreezorError::invalid(format!(
            "scaOperation {id} is {}",
            op.status.wire()
        )));
    }
    Ok(op)
}

/// The device approves `id`: signs its `{url, body}` now.
pub fn approve(
    inner: &mut Inner,
    keys: &Keys,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), TreezorError> {
    let op = pending(inner, id)?;
    let url = op
        .data_to_sign
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = op
        .data_to_sign
        .get("body")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let proof = sign_proof(keys, op.user_id, url, &body, now)?;
    op.proof = Some(proof);
    op.status = ScaStatus::Validated;
    op.answered = Some(now);
    Ok(())
}

/// The device refuses `id`.
pub fn refuse(inner: &mut Inner, id: &str, now: DateTime<Utc>) -> Result<(), TreezorError> {
    let op = pending(inner, id)?;
    op.status = ScaStatus::Refused;
    op.answered = Some(now);
    Ok(())
}

/// `POST /core-connect/sca/scaOperations`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let mut inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))?;
    let data_to_sign = payload
        .get("dataToSign")
        .filter(|d| d.is_object())
        .cloned()
        .ok_or_else(|| TreezorError::invalid("dataToSign must be an object"))?;
    let requested = payload.get("requestBy").and_then(super::wire::parse_id);
    // A program token must say who signs; an end-user token signs for its user.
    let user_id = match (caller.user_id, requested) {
        (Some(user), _) => user,
        (None, Some(user)) => user,
        (None, None) => {
            return Err(TreezorError::invalid(
                "requestBy is required with a program token",
            ))
        }
    };
    if !state.keys.devices.contains_key(&user_id) {
        return Err(TreezorError::invalid(format!(
            "user {user_id} has no enrolled device"
        )));
    }
    let text = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let op = ScaOperation {
        id: uuid::Uuid::new_v4().to_string(),
        user_id,
        data_to_sign,
        action_name: text("actionName"),
        action_description: text("actionDescription"),
        created: now,
        status: ScaStatus::Pending,
        answered: None,
        proof: None,
    };
    let answer = json!({"scaOperationRequestId": op.id, "status": "PENDING"});
    inner.sca_operations.push(op);
    Ok(HttpResponse::Created().json(answer))
}

/// `GET /core-connect/sca/scaOperations/{id}`.
pub async fn get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    let op = inner
        .sca_operations
        .iter()
        .find(|o| o.id == path.as_str() && caller.user_id.map_or(true, |u| u == o.user_id))
        .ok_or_else(|| TreezorError::not_found(format!("no scaOperation {}", path.as_str())))?;
    Ok(HttpResponse::Ok().json(op.json()))
}

/// `GET /core-connect/sca/scaOperations` (the device's list; `?status=` filters).
pub async fn list(
    req: HttpRequest,
    query: web::Query<std::collections::HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let now = state.now();
    let inner = state.lock();
    let caller = authenticate(&req, &inner, now)?;
    let user = caller.user()?;
    let status = query.get("status").map(String::as_str);
    let ops: Vec<Value> = inner
        .sca_operations
        .iter()
        .filter(|o| o.user_id == user && status.map_or(true, |s| s == o.status.wire()))
        .map(ScaOperation::json)
        .collect();
    Ok(HttpResponse::Ok().json(ops))
}
