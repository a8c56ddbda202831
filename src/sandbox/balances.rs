//! `GET /accounts/{id}/balances`: CLBD always (other STET types where the persona has them),
//! for accounts whose IBAN is in the consent's `balances`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::accounts::{balance_resources, charge, consent, find};
use super::error::StetError;
use super::oauth::Scope;
use super::state::SandboxState;
use super::transport::authenticate;
use super::{api_base, hal, link};

/// `GET /accounts/{accountResourceId}/balances`.
pub async fn get(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    let (_, resource_id) = path.into_inner();
    let account = find(&call, &resource_id)?;
    let allowed = consent(&state, &call)?.is_some_and(|c| c.balances.contains(account.iban));
    if !allowed {
        return Err(StetError::forbidden(
            "no consent to the balances of this account",
        ));
    }
    charge(&state, &call, account.iban, "balances")?;
    let base = api_base(&call.bank);
    let account_base = format!("{base}/accounts/{resource_id}");
    let mut links = json!({
        "self": link(format!("{account_base}/balances"), false),
        "parent-list": link(format!("{base}/accounts"), false),
    });
    let may_list = consent(&state, &call)?.is_some_and(|c| c.transactions.contains(account.iban));
    if may_list {
        links["transactions"] = link(format!("{account_base}/transactions"), true);
    }
    Ok(hal(
        StatusCode::OK,
        &json!({
            "balances": balance_resources(&state, account, state.now()),
            "_links": links,
        }),
    ))
}
