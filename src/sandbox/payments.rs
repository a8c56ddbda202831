//! PISP: `POST /payment-requests` (client-credentials token), approval by the PSU on the
//! sandbox's own login + OTP page, `POST …/confirmation` (or `o-confirmation` with the PSU's own
//! token), and `GET /payment-requests/{id}` with ISO 20022 statuses:
//! `RCVD` → `ACCP` (PSU approved) → `ACSP` (confirmed) → `ACSC` (executed, a few seconds of
//! sandbox time later), or `RJCT` (cancelled by the PSU, wrong debtor account, amount above the
//! booked balance). A second confirmation answers 409.

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::error::StetError;
use super::history::{Generated, History, Kind};
use super::money::{parse_minor, splitmix64};
use super::oauth::{issue_code, redirect_with, LoginSession, Purpose, Scope, Scopes};
use super::pages;
use super::personas::{self, AccountSpec};
use super::state::{Inner, SandboxState};
use super::transport::{authenticate, bank_of, ApiCall};
use super::{api_base, hal, link};

/// How long after confirmation a payment is settled (`ACSC`), in sandbox time.
pub const EXECUTION_DELAY: Duration = Duration::seconds(5);

/// A payment request.
#[derive(Debug, Clone)]
pub struct Payment {
    /// The bank it was sent to.
    pub bank: String,
    /// The TPP that sent it (the code of the approval is for it).
    pub client_id: String,
    /// The request as sent, echoed back.
    pub request: Value,
    /// `paymentInformationStatus`.
    pub status: &'static str,
    /// `statusReasonInformation` when rejected.
    pub reason: Option<&'static str>,
    /// The PSU who approved it.
    pub psu: Option<String>,
    /// The debtor IBAN, from the request or chosen at approval.
    pub debtor_iban: Option<String>,
    /// Total amount in cents.
    pub amount_minor: i64,
    /// When it was confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// `POST /payment-requests`.
pub async fn create(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Pisp)?;
    let request: Value = serde_json::from_slice(&body)
        .map_err(|_| StetError::bad_request("the body must be a JSON PaymentRequestResource"))?;
    for field in [
        "paymentInformationId",
        "creationDateTime",
        "numberOfTransactions",
        "initiatingParty",
        "paymentTypeInformation",
        "creditTransferTransaction",
        "supplementaryData",
    ] {
        if request.get(field).is_none() {
            return Err(StetError::bad_request(format!("{field} is required")));
        }
    }
    if str_at(&request, &["supplementaryData", "successfulReportUrl"]).is_none() {
        return Err(StetError::bad_request(
            "supplementaryData.successfulReportUrl is required (REDIRECT approach)",
        ));
    }
    let transfers = request["creditTransferTransaction"]
        .as_array()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| StetError::bad_request("creditTransferTransaction must not be empty"))?;
    let mut amount_minor = 0i64;
    for transfer in transfers {
        if str_at(transfer, &["instructedAmount", "currency"]) != Some("EUR") {
            return Err(StetError::bad_request("only EUR payments are accepted"));
        }
        let amount = str_at(transfer, &["instructedAmount", "amount"])
            .and_then(parse_minor)
            .filter(|a| *a > 0)
            .ok_or_else(|| StetError::bad_request("instructedAmount.amount is invalid"))?;
        amount_minor = amount_minor.saturating_add(amount);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let payment = Payment {
        bank: call.bank.clone(),
        client_id: state.client_id.clone(),
        debtor_iban: str_at(&request, &["debtorAccount", "iban"]).map(str::to_owned),
        request,
        status: "RCVD",
        reason: None,
        psu: None,
        amount_minor,
        confirmed_at: None,
    };
    state.lock().payments.insert(id.clone(), payment);
    // The PSU approves in a browser, on the pages listener (no client certificate there).
    let approval = format!(
        "https://{}/banks/{}/stet/psd2/pisp/approve/{id}",
        state.web_host, call.bank
    );
    let location = format!("{}/payment-requests/{id}", api_base(&call.bank));
    let mut response = hal(
        StatusCode::CREATED,
        &json!({
            "appliedAuthenticationApproach": "REDIRECT",
            "_links": {"consentApproval": link(approval, false)},
        }),
    );
    if let Ok(value) = location.parse() {
        response.headers_mut().insert(LOCATION, value);
    }
    Ok(response)
}

/// `GET /banks/{bank}/stet/psd2/pisp/approve/{id}`: the PSU's approval page (login, then OTP).
pub async fn approval_page(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    let Ok(bank) = bank_of(&req) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown bank");
    };
    let (_, id) = path.into_inner();
    let now = state.now();
    let mut inner = state.lock();
    let Some(payment) = inner.payments.get(&id).filter(|p| p.bank == bank) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown payment request");
    };
    if payment.status != "RCVD" {
        return pages::error(
            StatusCode::CONFLICT,
            "This payment has already been handled",
        );
    }
    let what = format!(
        "Validez le virement de {} EUR.",
        super::money::format_minor(payment.amount_minor)
    );
    let session = super::state::random_token(24);
    inner.sessions.insert(
        session.clone(),
        LoginSession {
            bank: bank.clone(),
            purpose: Purpose::ApprovePayment { payment_id: id },
            psu: None,
            created_at: now,
        },
    );
    pages::login(&bank, &session, &what, None)
}

fn report_url(payment: &Payment, success: bool) -> Option<String> {
    let key = if success {
        "successfulReportUrl"
    } else {
        "unsuccessfulReportUrl"
    };
    str_at(&payment.request, &["supplementaryData", key])
        .or_else(|| {
            str_at(
                &payment.request,
                &["supplementaryData", "successfulReportUrl"],
            )
        })
        .map(str::to_owned)
}

/// The PSU approved on the OTP page: check the debtor account and send them back to the TPP.
pub fn on_approved(
    inner: &mut Inner,
    id: &str,
    bank: &str,
    psu: &str,
    now: DateTime<Utc>,
) -> HttpResponse {
    let Some(payment) = inner.payments.get_mut(id) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown payment request");
    };
    let own: Vec<&str> = personas::by_id(psu)
        .map(|p| p.accounts_at(bank).map(|a| a.iban).collect())
        .unwrap_or_default();
    payment.psu = Some(psu.to_owned());
    match payment.debtor_iban.clone() {
        Some(iban) if !own.contains(&iban.as_str()) => {
            payment.status = "RJCT";
            payment.reason = Some("AC01");
        }
        Some(_) => payment.status = "ACCP",
        None => {
            payment.debtor_iban = own.first().map(|s| (*s).to_owned());
            payment.status = "ACCP";
        }
    }
    let success = payment.status == "ACCP";
    let (client_id, report) = (payment.client_id.clone(), report_url(payment, success));
    match report {
        // An approval is the PSU's own OAuth grant (REDIRECT approach): the code on the report
        // URL gives the TPP the token its `o-confirmation` needs.
        Some(url) if success => {
            let code = issue_code(
                inner,
                bank,
                &client_id,
                &url,
                Scopes::only(Scope::Pisp),
                psu,
                now,
            );
            redirect_with(&url, &[("code", &code)], None)
        }
        Some(url) => redirect_with(&url, &[], None),
        None => pages::error(StatusCode::OK, "Payment handled"),
    }
}

/// The PSU cancelled on the login or OTP page.
pub fn on_cancelled(inner: &mut Inner, id: &str) -> HttpResponse {
    let Some(payment) = inner.payments.get_mut(id) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown payment request");
    };
    payment.status = "RJCT";
    payment.reason = Some("DS02");
    match report_url(payment, false) {
        Some(url) => redirect_with(&url, &[], None),
        None => pages::error(StatusCode::OK, "Payment cancelled"),
    }
}

/// The confirmed payments from `account`, as transactions of it: each
/// appears (not booked) when confirmed and books when executed, [`EXECUTION_DELAY`] later, so
/// the balances and the history a PSU reads follow the payments they made. A rejected payment
/// never debits. References are 40 characters: the account's prefix, `VIR` and digits from the
/// payment's id, so two payments confirmed at the same instant stay two transactions.
pub fn debits(inner: &Inner, account: &AccountSpec) -> Vec<Generated> {
    let prefix = &account.resource_id[..14.min(account.resource_id.len())];
    let mut out: Vec<Generated> = inner
        .payments
        .iter()
        .filter(|(_, p)| p.bank == account.bank && p.debtor_iban.as_deref() == Some(account.iban))
        .filter(|(_, p)| matches!(p.status, "ACSP" | "ACSC"))
        .filter_map(|(id, p)| {
            let confirmed_at = p.confirmed_at?;
            let digits = id
                .bytes()
                .fold(0x5EEDu64, |acc, b| splitmix64(acc ^ u64::from(b)));
            Some(Generated {
                index: u64::MAX,
                kind: Kind::Other,
                created_at: confirmed_at,
                booked_at: confirmed_at + EXECUTION_DELAY,
                signed_minor: -p.amount_minor,
                label: format!("VIR SEPA EMIS {}", creditor_name(&p.request)),
                entry_reference: format!("{prefix}VIR{digits:023}"),
                released_at: None,
                dated: true,
            })
        })
        .collect();
    out.sort_by_key(|g| (g.created_at, g.entry_reference.clone()));
    out
}

/// The creditor's name as the TPP sent it (STET `beneficiary.creditor.name`, at the top or in
/// the first transfer), upper-cased as banks print it.
fn creditor_name(request: &Value) -> String {
    let path = ["beneficiary", "creditor", "name"];
    str_at(request, &path)
        .or_else(|| {
            request["creditTransferTransaction"]
                .get(0)
                .and_then(|t| str_at(t, &path))
        })
        .unwrap_or("BENEFICIAIRE")
        .to_uppercase()
}

/// Executes a confirmed payment once its [`EXECUTION_DELAY`] has passed.
pub fn settle(payment: &mut Payment, now: DateTime<Utc>) {
    if payment.status == "ACSP"
        && payment
            .confirmed_at
            .is_some_and(|at| now - at >= EXECUTION_DELAY)
    {
        payment.status = "ACSC";
    }
}

fn resource(id: &str, payment: &Payment) -> Value {
    let mut request = payment.request.clone();
    request["resourceId"] = json!(id);
    request["paymentInformationStatus"] = json!(payment.status);
    if let Some(reason) = payment.reason {
        request["statusReasonInformation"] = json!(reason);
    }
    let transaction_status = match payment.status {
        "RJCT" => "RJCT",
        "ACSP" => "ACSP",
        "ACSC" => "ACSC",
        _ => "PDNG",
    };
    if let Some(transfers) = request["creditTransferTransaction"].as_array_mut() {
        for transfer in transfers {
            transfer["transactionStatus"] = json!(transaction_status);
        }
    }
    let base = api_base(&payment.bank);
    let mut links = json!({"self": link(format!("{base}/payment-requests/{id}"), false)});
    if payment.status == "ACCP" {
        links["confirmation"] = link(format!("{base}/payment-requests/{id}/confirmation"), false);
    }
    json!({"paymentRequest": request, "_links": links})
}

/// `GET /payment-requests/{id}`.
pub async fn get(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Pisp)?;
    let (_, id) = path.into_inner();
    let now = state.now();
    let mut inner = state.lock();
    let payment = lookup(&mut inner, &call, &id)?;
    settle(payment, now);
    Ok(hal(StatusCode::OK, &resource(&id, payment)))
}

fn lookup<'a>(
    inner: &'a mut Inner,
    call: &ApiCall,
    id: &str,
) -> Result<&'a mut Payment, StetError> {
    inner
        .payments
        .get_mut(id)
        .filter(|p| p.bank == call.bank)
        .ok_or_else(|| StetError::not_found(format!("payment request {id} is unknown")))
}

/// `POST /payment-requests/{id}/confirmation` (TPP token).
pub async fn confirm(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    confirm_as(req, body, path, state, false).await
}

/// `POST /payment-requests/{id}/o-confirmation` (STET 1.4.2, the PSU's own token).
pub async fn o_confirm(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    confirm_as(req, body, path, state, true).await
}

async fn confirm_as(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<(String, String)>,
    state: web::Data<SandboxState>,
    psu_token: bool,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Pisp)?;
    // The portal: the body is required, `{}` when there is nothing to say.
    if !serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object()) {
        return Err(StetError::bad_request(
            "a JSON body is required ({} if empty)",
        ));
    }
    let (_, id) = path.into_inner();
    let now = state.now();
    let anchor = state.anchor;
    let mut inner = state.lock();
    let payment = lookup(&mut inner, &call, &id)?;
    if psu_token && call.psu.as_deref() != payment.psu.as_deref().or(Some("")) {
        return Err(StetError::forbidden(
            "this payment was approved by another PSU",
        ));
    }
    if payment.confirmed_at.is_some() {
        return Err(StetError::Conflict(
            "this payment request is already confirmed".into(),
        ));
    }
    if payment.status != "ACCP" {
        return Err(StetError::bad_request(format!(
            "the payment cannot be confirmed in status {}",
            payment.status
        )));
    }
    let debtor = payment.debtor_iban.as_deref().and_then(|iban| {
        personas::PERSONAS
            .iter()
            .flat_map(|p| p.accounts.iter())
            .find(|a| a.bank == payment.bank && a.iban == iban)
    });
    let amount_minor = payment.amount_minor;
    // What the account may still spend counts the payments confirmed before this one.
    let funded = debtor.is_some_and(|account| {
        let paid = debits(&inner, account);
        History::new(account, anchor)
            .with_payments(&paid)
            .spendable(now)
            >= amount_minor
    });
    let payment = lookup(&mut inner, &call, &id)?;
    payment.confirmed_at = Some(now);
    if funded {
        payment.status = "ACSP";
    } else {
        payment.status = "RJCT";
        // Insufficient funds has no code in STET 1.4's StatusReasonInformation list.
        payment.reason = Some("MS03");
    }
    Ok(hal(StatusCode::OK, &resource(&id, payment)))
}
