//! The payment approval: `GET /pay/{token}` shows the payment, `POST /pay/{token}` binds the
//! browser and sends it to the bank's approval page, `GET /pay/return/{payment_id}` (the bank's
//! report URL) takes the browser back: the status read (and the payment confirmed where the
//! bank waits for it), then off to the app's `redirect_url` with the payment id and status.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::binding::{browser_hash, same_origin, BrowserBinding};
use super::see_other;
use crate::bank::{Connectors, FixedToken, TokenSource};
use crate::connect::psu;
use crate::model::{Currency, Money, PaymentStatus, ScaStatus};
use crate::payments::approval::{self, ReturnRefused};
use crate::payments::initiate::report_url;
use crate::payments::progress::follow;
use crate::payments::reason;
use crate::payments::record::{self, status_of};
use crate::state::AppState;
use crate::store;
use crate::store::models::PaymentRow;
use crate::store::payments::StatusChange;
use crate::sync::service::SyncContext;
use crate::web::i18n::{texts, Texts};
use crate::web::{error_page, render};

/// The payment page.
#[derive(Template)]
#[template(path = "pay.html")]
struct PayPage<'a> {
    t: &'a Texts,
    bank_name: &'a str,
    creditor_name: &'a str,
    creditor_iban: &'a str,
    amount: String,
    date: String,
    debtor: String,
    remittance: &'a str,
    action: String,
}

/// `12.50 EUR` (French: `12,50 EUR`), with the currency's own decimals.
fn amount_text(payment: &PaymentRow, t: &Texts) -> String {
    let text = match payment.currency.parse::<Currency>() {
        Ok(currency) => Money::from_minor(payment.amount_minor, currency).to_string(),
        Err(_) => format!("{} {}", payment.amount_minor, payment.currency),
    };
    if t.lang == "fr" {
        text.replace('.', ",")
    } else {
        text
    }
}

/// `GET /pay/{token}`: what the user is asked to approve.
#[get("/pay/{token}")]
pub async fn pay_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let t = texts(&req);
    let token = token.into_inner();
    let now = state.clock.stored_now();
    let found = store::run(&state.pool, move |conn| {
        Ok(approval::payment_of_link(conn, &token, now)?)
    })
    .await;
    let payment = match found {
        Ok(Some(p)) if status_of(&p) == PaymentStatus::AwaitingApproval => p,
        Ok(_) => return error_page(StatusCode::GONE, t, t.link_invalid),
        Err(e) => {
            tracing::error!(error = %e, "payment page");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    let bank_name = state.registry.display_name(&payment.bank_id);
    let date = match payment.requested_execution_date {
        Some(d) => d.format("%Y-%m-%d").to_string(),
        None if payment.instant => format!("{} {}", t.pay_now, t.pay_instant),
        None => t.pay_now.to_owned(),
    };
    let path = req.path().to_owned();
    render(
        StatusCode::OK,
        &PayPage {
            t,
            bank_name: &bank_name,
            creditor_name: &payment.creditor_name,
            creditor_iban: &payment.creditor_iban,
            amount: amount_text(&payment, t),
            date,
            debtor: payment
                .debtor_iban
                .clone()
                .unwrap_or_else(|| t.pay_from_bank.to_owned()),
            remittance: &payment.remittance,
            action: path,
        },
    )
}

/// The payment page's buttons.
#[derive(Debug, Deserialize)]
pub struct PayForm {
    cancel: Option<String>,
}

/// The app's `redirect_url` with the payment's id and status.
fn back_to_app(payment: &PaymentRow) -> HttpResponse {
    match Url::parse(&payment.redirect_url) {
        Ok(mut url) => {
            url.query_pairs_mut()
                .append_pair("payment_id", &payment.id)
                .append_pair("status", &payment.status);
            see_other(url.as_str())
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// `POST /pay/{token}`: uses the link up, binds this browser, and sends it to the bank (or, on
/// cancel, marks the payment cancelled and goes back to the app).
#[post("/pay/{token}")]
pub async fn pay_continue(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<PayForm>,
) -> HttpResponse {
    let t = texts(&req);
    if !same_origin(&req, &state.config.public_url) {
        return error_page(StatusCode::FORBIDDEN, t, t.cross_site);
    }
    let browser = match BrowserBinding::of(&req, &state.config.public_url) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "journey cookie");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    let (token, hash, now) = (token.into_inner(), browser.hash(), state.clock.stored_now());
    let cancel = form.cancel.is_some();
    let used = store::run(&state.pool, move |conn| {
        let Some(payment) = approval::use_link(conn, &token, &hash, now)? else {
            return Ok(None);
        };
        if status_of(&payment) != PaymentStatus::AwaitingApproval {
            return Ok(None);
        }
        if cancel {
            let change = StatusChange {
                from: PaymentStatus::AwaitingApproval,
                to: PaymentStatus::Cancelled,
                reason: Some(reason::CANCELLED_BY_USER),
                bank_status: None,
            };
            record::change(conn, &payment, &change, now)?;
            approval::resolve(conn, &payment.id, ScaStatus::Failed, Some("cancelled"), now)?;
            return Ok(crate::store::payments::find(conn, &payment.id)?);
        }
        Ok(Some(payment))
    })
    .await;
    let payment = match used {
        Ok(Some(p)) => p,
        Ok(None) => return error_page(StatusCode::GONE, t, t.link_invalid),
        Err(e) => {
            tracing::error!(error = %e, "payment continue");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    let mut response = if cancel {
        back_to_app(&payment)
    } else {
        match approval::bank_approval_url(&state.keyring, &payment) {
            Some(Ok(url)) => see_other(url.expose_secret()),
            Some(Err(e)) => {
                tracing::error!(error = %e, "the bank's approval link cannot be opened");
                return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
            }
            None => return error_page(StatusCode::GONE, t, t.link_invalid),
        }
    };
    if let Err(e) = response.add_cookie(&browser.cookie()) {
        tracing::error!(error = %e, "journey cookie");
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
    }
    response
}

/// What the bank's report URL brings back.
#[derive(Debug, Deserialize)]
pub struct ReturnQuery {
    // The `result` (`ok`/`ko`) Passerelle writes into the report URL is not read: the status
    // comes from the bank, never from the URL.
    /// The user's authorization code, from a bank that confirms with `o-confirmation`.
    code: Option<String>,
}

/// The user's own token from the code their bank sent back, for the `o-confirmation`, with
/// its refresh token (revoked once the confirmation is done); `None` (logged) when there is
/// none or the bank refuses it: the status poll then expires the payment at the end of the
/// approval window, unconfirmed.
async fn user_token(
    state: &AppState,
    connectors: &Connectors,
    payment_id: &str,
    code: Option<String>,
) -> Option<(FixedToken, Option<SecretString>)> {
    let code = SecretString::from(code?);
    let bank_id = store::run(&state.pool, {
        let id = payment_id.to_owned();
        move |conn| Ok(crate::store::payments::find(conn, &id)?.map(|p| p.bank_id))
    })
    .await
    .ok()
    .flatten()?;
    let connector = connectors.get(&bank_id).ok()?;
    let redirect = report_url(&state.config.public_url, payment_id, true).ok()?;
    match connector.access().complete(&code, &redirect, None).await {
        Ok(tokens) => Some((FixedToken(tokens.access_token), tokens.refresh_token)),
        Err(e) => {
            tracing::warn!(payment = %payment_id, error = %e, "the approval's code was refused");
            None
        }
    }
}

/// Revokes the user's payment grant at the bank (BPCE: revoking the refresh token revokes
/// the access token too); a failure is logged, and the access token dies with its hour.
async fn revoke_grant(
    state: &AppState,
    connectors: &Connectors,
    payment_id: &str,
    refresh: &SecretString,
) {
    let id = payment_id.to_owned();
    let bank_id = store::run(&state.pool, move |conn| {
        Ok(crate::store::payments::find(conn, &id)?.map(|p| p.bank_id))
    })
    .await;
    let Ok(Some(bank_id)) = bank_id else { return };
    let Ok(connector) = connectors.get(&bank_id) else {
        return;
    };
    if let Err(e) = connector.access().revoke(refresh).await {
        tracing::warn!(payment = %payment_id, error = %e, "the user's payment grant could not be revoked");
    }
}

/// `GET /pay/return/{payment_id}`: the bank's success or failure report. Only the browser that
/// went to the bank, once; the status is read from the bank whatever the URL says.
#[get("/pay/return/{payment_id}")]
pub async fn pay_return(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    payment_id: web::Path<String>,
    query: web::Query<ReturnQuery>,
) -> HttpResponse {
    let t = texts(&req);
    let payment_id = payment_id.into_inner();
    let browser = browser_hash(&req, &state.config.public_url);
    let now = state.clock.stored_now();
    let id = payment_id.clone();
    let taken = store::run(&state.pool, move |conn| {
        Ok(approval::take_return(conn, &id, browser.as_deref(), now)?)
    })
    .await;
    match taken {
        Ok(Ok(())) => {}
        Ok(Err(ReturnRefused::Unknown)) => {
            return error_page(StatusCode::FORBIDDEN, t, t.other_browser)
        }
        Ok(Err(ReturnRefused::Replayed | ReturnRefused::Expired)) => {
            return error_page(StatusCode::GONE, t, t.state_invalid)
        }
        Err(e) => {
            tracing::error!(error = %e, "payment return");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    }
    let ctx = SyncContext {
        pool: state.pool.clone(),
        config: state.config.clone(),
        keyring: state.keyring.clone(),
        clock: state.clock.clone(),
    };
    let psu = psu::from_request(&req, state.clock.now());
    let grant = user_token(&state, &connectors, &payment_id, query.into_inner().code).await;
    let token = grant.as_ref().map(|(t, _)| t as &dyn TokenSource);
    let followed = follow(&ctx, &connectors, &payment_id, Some(&psu), token).await;
    // The user's grant served this one confirmation: it dies now, whatever came of it.
    if let Some((_, Some(refresh))) = &grant {
        revoke_grant(&state, &connectors, &payment_id, refresh).await;
    }
    let payment = match followed {
        Ok((payment, _)) => payment,
        Err(e) => {
            // The poll job takes it from here (the confirmation too, once the bank can say).
            tracing::warn!(payment = %payment_id, error = %e, "payment status after the return");
            let id = payment_id.clone();
            match store::run(&state.pool, move |conn| {
                Ok(crate::store::payments::find(conn, &id)?)
            })
            .await
            {
                Ok(Some(p)) => p,
                _ => return error_page(StatusCode::BAD_GATEWAY, t, t.bank_failed),
            }
        }
    };
    let outcome = match status_of(&payment) {
        PaymentStatus::Rejected | PaymentStatus::Cancelled | PaymentStatus::Expired => {
            (ScaStatus::Failed, Some(payment.status.clone()))
        }
        PaymentStatus::AwaitingApproval => (ScaStatus::Failed, Some("not_approved".to_owned())),
        _ => (ScaStatus::Succeeded, None),
    };
    let id = payment.id.clone();
    let resolved = store::run(&state.pool, move |conn| {
        Ok(approval::resolve(
            conn,
            &id,
            outcome.0,
            outcome.1.as_deref(),
            now,
        )?)
    })
    .await;
    if let Err(e) = resolved {
        tracing::warn!(error = %e, "payment challenge outcome not recorded");
    }
    back_to_app(&payment)
}
