//! The demo's "pay" button: a small transfer from one of the visitor's sandbox accounts to a
//! fixed sandbox creditor, created through the API under a fresh `Idempotency-Key`, approved
//! through the real journey (Passerelle's page, then the bank's) — or, at a provider whose
//! user approves on their device (Treezor), in the provider's app (`decoupled`: the sandbox's
//! phone stand-in page), which `/demo/paid` polls — and followed on `/demo/paid` until its
//! final status (the page reloads itself until then).

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
/// The demo creditor's BIC (a provider that adds beneficiaries needs it).
pub const DEMO_CREDITOR_BIC: &str = "PSSTFRPPXXX";
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
    id: String,
    url: Option<String>,
}

/// A payment's id, as created.
#[derive(Debug, Deserialize)]
struct CreatedId {
    id: String,
    sca: Option<CreatedSca>,
}

/// The connection's bank, as the API shows it.
#[derive(Debug, Deserialize)]
struct ConnectionBank {
    bank_id: String,
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
    pub(super) bank_id: String,
    pub(super) debtor_iban: Option<String>,
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
    /// Awaiting the user's approval in the provider's app: the sandbox's phone stand-in.
    approve_at: Option<String>,
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
    let connection: ConnectionBank = match demo
        .call(
            "GET",
            &format!("/v1/connections/{}", form.connection_id),
            None,
        )
        .await
    {
        Ok(c) => c,
        Err(e) => return internal(t, e),
    };
    let on_device = state
        .registry
        .get(&connection.bank_id)
        .is_some_and(|b| b.protocol().approves_payments_on_device());
    let mut body = serde_json::json!({
        "debtor_account_id": form.account_id,
        "creditor_name": DEMO_CREDITOR.0,
        "creditor_iban": DEMO_CREDITOR.1,
        "creditor_bic": DEMO_CREDITOR_BIC,
        "amount": DEMO_AMOUNT,
        "currency": "EUR",
        "remittance": "Passerelle demo",
        "end_to_end_id": format!("DEMO-{}", &key[..16]),
        "redirect_url": demo.page_url(&format!("demo/paid?connection_id={}", form.connection_id)),
    });
    let path = format!("/v1/users/{user}/payments");
    if on_device {
        // No bank page to visit: the visitor approves in the provider's app, and the paid
        // page polls the challenge.
        body["sca_kind"] = "decoupled".into();
        let created: CreatedId = match demo.post_once(&path, body, &key).await {
            Ok(created) => created,
            Err(e) => return internal(t, e),
        };
        let Some(sca) = created.sca else {
            return internal(t, "the payment needs no approval: the provider refused it");
        };
        return see_other(&demo.page_url(&format!(
            "demo/paid?payment_id={}&connection_id={}&sca={}",
            created.id, form.connection_id, sca.id
        )));
    }
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
    /// The approval in the provider's app to poll.
    sca: Option<String>,
}

/// `GET /demo/paid`: the payment as the API shows it, reloading until it is final.
#[get("/demo/paid")]
pub async fn paid(
    req: HttpRequest,
    state: web::Data<AppState>,
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
    let path = format!("/v1/payments/{id}");
    let read = || demo.call::<ApiPayment>("GET", &path, None);
    let mut payment: ApiPayment = match read().await {
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
    // An approval pending in the provider's app: ask where it stands (which sends the
    // payment once approved), then read the payment again.
    let challenge = query.sca.filter(|s| uuid::Uuid::parse_str(s).is_ok());
    let mut approve_at = None;
    if let (Some(sca), "awaiting_approval") = (&challenge, payment.status.as_str()) {
        let polled = demo
            .call::<serde_json::Value>(
                "POST",
                &format!("/v1/sca/{sca}"),
                Some(serde_json::json!({})),
            )
            .await;
        if let Err(e) = polled {
            tracing::warn!(error = %e, "the demo could not poll its payment's approval");
        }
        match read().await {
            Ok(p) => payment = p,
            Err(e) => return internal(t, e),
        }
        if payment.status == "awaiting_approval" {
            approve_at = device_page(&state, &payment);
        }
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
            approve_at,
        },
    )
}

/// The sandbox's phone stand-in of the payment's payer (Treezor's simulator), where the
/// visitor approves: found from the debited wallet's IBAN among the simulator's personas.
fn device_page(state: &AppState, payment: &ApiPayment) -> Option<String> {
    use crate::sandbox::treezor::personas;
    let bank = state.registry.get(&payment.bank_id)?;
    if !bank.sandbox {
        return None;
    }
    let user = personas::owner_of_iban(payment.debtor_iban.as_deref()?)?;
    let oauth = bank
        .endpoints(crate::bank::factory::environment(bank))
        .oauth
        .as_ref()?;
    let mut url = oauth.authorize.clone();
    url.set_path(&format!("/treezor/device/{}", user.user_id));
    url.set_query(None);
    Some(url.to_string())
}
