//! `PUT /consents`: the portal's "mixed" consent model. Each PUT replaces the previous consent of
//! this PSU for this TPP at this bank; a PUT without accounts after a grant revokes them all.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::error::StetError;
use super::oauth::Scope;
use super::personas;
use super::state::SandboxState;
use super::transport::{authenticate, ApiCall};

/// What the PSU shares with one TPP at one bank.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consent {
    /// IBANs (a card account: its masked number) whose balances may be read.
    pub balances: BTreeSet<String>,
    /// IBANs (a card account: its masked number) whose transactions may be read.
    pub transactions: BTreeSet<String>,
    /// Whether `/end-user-identity` may be read.
    pub psu_identity: bool,
}

impl Consent {
    /// Whether any account is consented (an empty consent is the "revoke all" state).
    pub fn has_accounts(&self) -> bool {
        !self.balances.is_empty() || !self.transactions.is_empty()
    }
}

/// The consent key of a call.
pub fn key(call: &ApiCall, psu: &str) -> (String, String, String) {
    (call.bank.clone(), call.client_id.clone(), psu.to_owned())
}

/// The STET `IBAN2007Identifier` pattern: what the schema lets into `iban`.
fn iban_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    (5..=34).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..4].iter().all(u8::is_ascii_digit)
        && bytes[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// One `AccountIdentification`: an IBAN, or another identification (a card's masked number).
fn identification(field: &str, item: &Value) -> Result<String, StetError> {
    if let Some(iban) = item.get("iban") {
        // As the schema does: a card number sent as `iban` is a 400, not a match.
        return match iban.as_str() {
            Some(text) if iban_shaped(text) => Ok(text.to_owned()),
            _ => Err(StetError::bad_request(format!(
                "{field}: iban does not match the IBAN2007Identifier pattern"
            ))),
        };
    }
    item.get("other")
        .and_then(|o| o.get("identification"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            StetError::bad_request(format!("{field}: each entry needs an iban or other"))
        })
}

fn ibans(body: &Value, field: &str) -> Result<BTreeSet<String>, StetError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(BTreeSet::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| identification(field, item))
            .collect(),
        Some(_) => Err(StetError::bad_request(format!("{field} must be an array"))),
    }
}

/// `PUT /consents`: 201 without a body.
pub async fn put(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    let psu = call.psu()?;
    let access: Value = serde_json::from_slice(&body)
        .map_err(|_| StetError::bad_request("the body must be a JSON Access object"))?;
    if !access.is_object() {
        return Err(StetError::bad_request(
            "the body must be a JSON Access object",
        ));
    }
    let consent = Consent {
        balances: ibans(&access, "balances")?,
        transactions: ibans(&access, "transactions")?,
        psu_identity: access
            .get("psuIdentity")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    // trustedBeneficiaries is ignored, as on the portal.
    let persona = personas::by_id(psu).ok_or_else(|| StetError::forbidden("unknown PSU"))?;
    let known: BTreeSet<&str> = persona.accounts_at(&call.bank).map(|a| a.iban).collect();
    if let Some(unknown) = consent
        .balances
        .iter()
        .chain(&consent.transactions)
        .find(|iban| !known.contains(iban.as_str()))
    {
        return Err(StetError::bad_request(format!(
            "{unknown} is not an account of this PSU"
        )));
    }
    state.lock().consents.insert(key(&call, psu), consent);
    Ok(HttpResponse::build(StatusCode::CREATED).finish())
}
