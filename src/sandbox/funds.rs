//! CBPII: `POST /funds-confirmations`, answering whether the booked balance covers an amount.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::StetError;
use super::history::History;
use super::money::parse_minor;
use super::oauth::Scope;
use super::personas;
use super::state::SandboxState;
use super::transport::authenticate;
use super::{api_base, hal, link};

/// `POST /funds-confirmations`.
pub async fn confirm(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Cbpii)?;
    let psu = call.psu()?;
    let request: Value = serde_json::from_slice(&body).map_err(|_| {
        StetError::bad_request("the body must be a JSON PaymentCoverageRequestResource")
    })?;
    if request
        .get("paymentCoverageRequestId")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(StetError::bad_request(
            "paymentCoverageRequestId is required",
        ));
    }
    if request["instructedAmount"]["currency"].as_str() != Some("EUR") {
        return Err(StetError::bad_request("only EUR amounts are accepted"));
    }
    let amount = request["instructedAmount"]["amount"]
        .as_str()
        .and_then(parse_minor)
        .ok_or_else(|| StetError::bad_request("instructedAmount.amount is invalid"))?;
    let iban = request["accountId"]["iban"]
        .as_str()
        .ok_or_else(|| StetError::bad_request("accountId.iban is required"))?;
    let account = personas::by_id(psu)
        .and_then(|p| p.accounts_at(&call.bank).find(|a| a.iban == iban))
        .ok_or_else(|| StetError::bad_request(format!("{iban} is not an account of this PSU")))?;
    // The same rule as a payment's confirmation: the booked balance less the payments not yet
    // executed.
    let paid = state.payments_from(account);
    let result = History::new(account, state.anchor)
        .with_payments(&paid)
        .spendable(state.now())
        >= amount;
    Ok(hal(
        StatusCode::OK,
        &json!({
            "request": request,
            "result": result,
            "_links": {"self": link(format!("{}/funds-confirmations", api_base(&call.bank)), false)},
        }),
    ))
}
