//! `GET /accounts`: before any consent (or after revoking all accounts) the accounts are listed
//! without `resourceId`, balances or links; afterwards they carry a `resourceId`, and the
//! balance and links that the consent allows.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::consents::{self, Consent};
use super::error::StetError;
use super::history::History;
use super::money::format_minor;
use super::oauth::Scope;
use super::personas::{self, AccountSpec};
use super::quota::QuotaKey;
use super::state::SandboxState;
use super::transport::{authenticate, ApiCall};
use super::{api_base, hal, link};

/// The account `resource_id` of the call's PSU at the call's bank, or 404.
pub fn find(call: &ApiCall, resource_id: &str) -> Result<&'static AccountSpec, StetError> {
    let psu = call.psu()?;
    personas::by_id(psu)
        .and_then(|p| {
            p.accounts
                .iter()
                .find(|a| a.bank == call.bank && a.resource_id == resource_id)
        })
        .ok_or_else(|| StetError::not_found(format!("account {resource_id} is unknown")))
}

/// Counts an unattended call against the batch limit.
pub fn charge(
    state: &SandboxState,
    call: &ApiCall,
    iban: &str,
    method: &'static str,
) -> Result<(), StetError> {
    if call.psu_present {
        return Ok(());
    }
    let key = QuotaKey {
        client_id: call.client_id.clone(),
        bank: call.bank.clone(),
        psu: call.psu()?.to_owned(),
        iban: iban.to_owned(),
        method,
    };
    let now = state.now();
    state.lock().quota.charge(key, now)
}

/// The call's consent (`None` before any `PUT /consents`).
pub fn consent(state: &SandboxState, call: &ApiCall) -> Result<Option<Consent>, StetError> {
    let key = consents::key(call, call.psu()?);
    Ok(state.lock().consents.get(&key).cloned())
}

/// The balance resources of an account at `now`: CLBD always, XPCD where the persona has it.
pub fn balance_resources(
    state: &SandboxState,
    account: &AccountSpec,
    now: DateTime<Utc>,
) -> Vec<Value> {
    let paid = state.payments_from(account);
    let history = History::new(account, state.anchor).with_payments(&paid);
    let booked = history.booked_balance(now);
    let today = now.with_timezone(&chrono_tz::Europe::Paris).date_naive();
    let mut out = vec![json!({
        "balanceType": "CLBD",
        "name": format!("Solde comptable au {}", today.format("%d/%m/%Y")),
        "balanceAmount": {"amount": format_minor(booked), "currency": "EUR"},
        "referenceDate": today.format("%Y-%m-%d").to_string(),
    })];
    if account.expected_balance {
        out.push(json!({
            "balanceType": "XPCD",
            "name": "Solde prévisionnel",
            "balanceAmount": {
                "amount": format_minor(booked + history.pending_sum(now)),
                "currency": "EUR"
            },
            "referenceDate": today.format("%Y-%m-%d").to_string(),
        }));
    }
    out
}

/// `GET /accounts`.
pub async fn list(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    let persona =
        personas::by_id(call.psu()?).ok_or_else(|| StetError::forbidden("unknown PSU"))?;
    charge(&state, &call, "", "accounts")?;
    let consent = consent(&state, &call)?.filter(Consent::has_accounts);
    let now = state.now();
    let base = api_base(&call.bank);
    let accounts: Vec<Value> = persona
        .accounts_at(&call.bank)
        .map(|account| {
            let mut item = json!({
                "cashAccountType": "CACC",
                "accountId": {"iban": account.iban},
                "usage": account.usage,
                "psuStatus": "Account Holder",
                "name": account.name,
                "currency": "EUR",
                // STET requires `_links`; before consent it is empty, as the portal shows none.
                "_links": {},
            });
            if let Some(linked) = account.card_of {
                item["cashAccountType"] = json!("CARD");
                item["accountId"] =
                    json!({"other": {"identification": account.iban, "schemeName": "CPAN"}});
                item["linkedAccount"] = json!(linked);
            }
            if let Some(consent) = &consent {
                item["resourceId"] = json!(account.resource_id);
                let account_base = format!("{base}/accounts/{}", account.resource_id);
                if consent.balances.contains(account.iban) {
                    item["balances"] = json!(balance_resources(&state, account, now));
                    item["_links"]["balances"] = link(format!("{account_base}/balances"), false);
                }
                if consent.transactions.contains(account.iban) {
                    item["_links"]["transactions"] =
                        link(format!("{account_base}/transactions"), true);
                }
            }
            item
        })
        .collect();
    let mut links = json!({"self": link(format!("{base}/accounts"), false)});
    if consent_identity(&state, &call)? {
        links["endUserIdentity"] = link(format!("{base}/end-user-identity"), false);
    }
    Ok(hal(
        StatusCode::OK,
        &json!({"accounts": accounts, "_links": links}),
    ))
}

fn consent_identity(state: &SandboxState, call: &ApiCall) -> Result<bool, StetError> {
    Ok(consent(state, call)?.is_some_and(|c| c.psu_identity))
}
