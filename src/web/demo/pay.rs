//! The demo's "pay" button: a small transfer from one of the visitor's sandbox accounts to a
//! fixed sandbox creditor, created through the API under a fresh `Idempotency-Key`, approved
//! through the real journey (Passerelle's page, then the bank's), and followed on
//! `/demo/paid` until its final status (the page reloads itself until then).

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::client::{CallError, DemoClient};
use super::{cookie_user, internal};
use crate::state::AppState;
use crate::web::i18n::{english, Texts};
use crate::web::journey::binding::same_origin;
use crate::web::journey::see_other;
use crate::web::{error_page, render};

/// Who the demo pays: a fictive shop with a valid French IBAN.
pub const DEMO_CREDITOR: (&str, &str) = ("Boutique Demo Passerelle", "FR7630004000031234567890143");
/// How much the demo pays.
pub const DEMO_AMOUNT: &str = "1.50";

/// The pay button's form.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    account_id: String,
    connection_id: String,
}

/// A created payment, as far as the demo reads it.
#[derive(Debug, Deserialize)]
struct CreatedPayment {
    sca: Option<CreatedSca>,
}

#[derive(Debug, Deserialize)]
struct CreatedSca {
    url: Option<String>,
}

/// A payment on the paid page.
#[derive(Debug, Deserialize)]
pub(super) struct ApiPayment {
    pub(super) id: String,
    pub(super) user_id: String,
    pub(super) status: String,
    pub(super) status_reason: Option<String>,
    pub(super) amount: String,
    pub(super) currency: String,
    pub(super) creditor_name: String,
    pub(super) history: Vec<ApiPaymentChange>,
}

/// One status of the payment.
#[derive(Debug, Deserialize)]
pub(super) struct ApiPaymentChange {
    pub(super) status: String,
    pub(super) at: String,
}

/// `GET /demo/paid`.
#[derive(Template)]
#[template(path = "demo_paid.html")]
struct PaidPage<'a> {
    t: &'a Texts,
    payment: ApiPayment,
    is_final: bool,
    back: String,
}

/// `POST /demo/pay`: creates the payment through the API and sends the browser to its
/// approval link.
#[post("/demo/pay")]
pub async fn pay(
    req: HttpRequest,
    state: web::Data<AppState>,
    demo: web::Data<DemoClient>,
    form: web::Form<PayForm>,
) -> HttpResponse {
    let t = english();
    if !same_origin(&req, &state.config.public_url) {
        return error_page(StatusCode::FORBIDDEN, t, t.cross_site);
    }
    let Some(user) = cookie_user(&req) else {
        return error_page(StatusCode::BAD_REQUEST, t, "Connect a sandbox bank first.");
    };
    // Both ids travel on into URLs: only ids Passerelle could have made (UUIDs) go.
    if uuid::Uuid::parse_str(&form.connection_id).is_err()
        || uuid::Uuid::parse_str(&form.account_id).is_err()
    {
        return error_page(StatusCode::BAD_REQUEST, t, "No such demo account.");
    }
    let key = match crate::connect::random_token() {
        Ok(key) => key,
        Err(e) => return internal(t, e),
    };
    let body = serde_json::json!({
        "debtor_account_id": form.account_id,
        "creditor_name": DEMO_CREDITOR.0,
        "creditor_iban": DEMO_CREDITOR.1,
        "amount": DEMO_AMOUNT,
        "currency": "EUR",
        "remittance": "Passerelle demo",
        "end_to_end_id": format!("DEMO-{}", &key[..16]),
        "redirect_url": demo.page_url(&format!("demo/paid?connection_id={}", form.connection_id)),
    });
    let path = format!("/v1/users/{user}/payments");
    let created: CreatedPayment = match demo.post_once(&path, body, &key).await {
        Ok(created) => created,
        Err(e) => return internal(t, e),
    };
    match created.sca.and_then(|s| s.url) {
        Some(url) => see_other(&url),
        None => internal(t, "the payment needs no approval: the bank refused it"),
    }
}

/// Where the approval sends the browser back.
#[derive(Debug, Deserialize)]
pub struct PaidQuery {
    payment_id: Option<String>,
    connection_id: Option<String>,
}

/// `GET /demo/paid`: the payment as the API shows it, reloading until it is final.
#[get("/demo/paid")]
pub async fn paid(
    req: HttpRequest,
    demo: web::Data<DemoClient>,
    query: web::Query<PaidQuery>,
) -> HttpResponse {
    let t = english();
    let query = query.into_inner();
    let Some(id) = query
        .payment_id
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
    else {
        return error_page(StatusCode::BAD_REQUEST, t, "No payment to show.");
    };
    let payment: ApiPayment = match demo.call("GET", &format!("/v1/payments/{id}"), None).await {
        Ok(p) => p,
        Err(CallError {
            status: Some(404), ..
        }) => return error_page(StatusCode::NOT_FOUND, t, "No such demo payment."),
        Err(e) => return internal(t, e),
    };
    if cookie_user(&req).as_deref() != Some(payment.user_id.as_str()) {
        return error_page(
            StatusCode::NOT_FOUND,
            t,
            "This demo payment was made in another browser.",
        );
    }
    let is_final =
        ["executed", "rejected", "cancelled", "expired"].contains(&payment.status.as_str());
    let back = match query
        .connection_id
        .filter(|c| uuid::Uuid::parse_str(c).is_ok())
    {
        Some(c) => demo.page_url(&format!("demo/done?connection_id={c}")),
        None => demo.page_url("demo"),
    };
    render(
        StatusCode::OK,
        &PaidPage {
            t,
            payment,
            is_final,
            back,
        },
    )
}
