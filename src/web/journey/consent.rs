//! The consent page and `POST /consent/{token}`: the PSU ticks, per account, balances and
//! transactions (and identity); [`crate::connect::consent`] sends the choice to the provider,
//! records the version and runs the first sync.

use std::rc::Rc;

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use askama::Template;

use super::binding::{browser_hash, same_origin};
use super::{back_to_app, fail};
use crate::bank::{Connector, Connectors, PsuContext};
use crate::connect::consent::{self, Choice, Proof, ShareableAccount};
use crate::connect::failure::JourneyError;
use crate::connect::psu;
use crate::model::ConnectionStatus;
use crate::state::AppState;
use crate::store::models::ConnectionRow;
use crate::web::i18n::{texts, Texts};
use crate::web::{error_page, render};

/// The consent page.
#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    t: &'a Texts,
    bank_name: &'a str,
    action: String,
    accounts: Vec<ShareableAccount>,
    identity: bool,
}

/// The consent page: the accounts the provider lists, each with balances and transactions to
/// tick, plus identity. Its form is single-use and bound to `browser_hash`.
pub(super) async fn consent_page(
    state: &AppState,
    connector: &Rc<dyn Connector>,
    connection: &ConnectionRow,
    psu: &PsuContext,
    browser_hash: &str,
    proof: Proof,
    t: &Texts,
) -> Result<HttpResponse, JourneyError> {
    let form =
        consent::prepare_form(state, connector, connection, psu, browser_hash, proof).await?;
    Ok(render(
        StatusCode::OK,
        &ConsentPage {
            t,
            bank_name: &connector.bank().name,
            action: format!("/consent/{}", form.token),
            accounts: form.accounts,
            identity: form.identity,
        },
    ))
}

/// `POST /consent/{token}`: applies the PSU's choice and returns to the app. The form must be
/// posted from Passerelle's page by the browser it was shown to.
#[post("/consent/{token}")]
pub async fn consent_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    token: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let t = texts(&req);
    if !same_origin(&req, &state.config.public_url) {
        return error_page(StatusCode::FORBIDDEN, t, t.cross_site);
    }
    let browser = browser_hash(&req, &state.config.public_url);
    let redeemed = consent::redeem_form(&state, &token.into_inner(), browser).await;
    let Ok(Some((connection, proof))) = redeemed else {
        return error_page(StatusCode::GONE, t, t.link_invalid);
    };
    let mut choice = Choice {
        balances: Vec::new(),
        transactions: Vec::new(),
        identity: false,
    };
    for (name, value) in url::form_urlencoded::parse(&body) {
        match name.as_ref() {
            "balances" => choice.balances.push(value.into_owned()),
            "transactions" => choice.transactions.push(value.into_owned()),
            "identity" => choice.identity = true,
            _ => {}
        }
    }
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, JourneyError::internal(e)).await,
    };
    let psu = psu::from_request(&req, state.clock.now());
    match consent::apply(&state, &connector, &connection, &psu, choice, proof).await {
        Ok(()) => back_to_app(&connection, ConnectionStatus::Active.as_str(), None),
        Err(f) => fail(&state, &connection, f).await,
    }
}
