//! `GET /connect/{token}` names the bank and what will be shared; `POST /connect/{token}` binds
//! the browser and sends it to the bank with a fresh `state`, or, for a consent change asked for
//! by the browser that passed SCA minutes ago, straight to the consent page.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::binding::{same_origin, BrowserBinding};
use super::consent::consent_page;
use super::{fail, see_other};
use crate::bank::Connectors;
use crate::connect::authorize::{self, live_link, same_browser_may_skip_sca};
use crate::connect::consent::Proof;
use crate::connect::failure::JourneyError;
use crate::connect::psu;
use crate::state::AppState;
use crate::web::i18n::{texts, Texts};
use crate::web::{error_page, render};

/// The connect page.
#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage<'a> {
    t: &'a Texts,
    bank_name: &'a str,
    action: String,
}

/// `GET /connect/{token}`: names the bank and what will be shared.
#[get("/connect/{token}")]
pub async fn connect_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> HttpResponse {
    let t = texts(&req);
    let token = token.into_inner();
    let connection = match live_link(&state, &token).await {
        Ok(Some(connection)) => connection,
        Ok(None) => return error_page(StatusCode::GONE, t, t.link_invalid),
        Err(e) => {
            tracing::error!(error = %e, "connect page");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    let bank_name = state.registry.display_name(&connection.bank_id);
    render(
        StatusCode::OK,
        &ConnectPage {
            t,
            bank_name: &bank_name,
            action: format!("/connect/{token}"),
        },
    )
}

/// The connect page's buttons.
#[derive(Debug, Deserialize)]
pub struct ContinueForm {
    cancel: Option<String>,
}

/// `POST /connect/{token}`: off to the bank's authorize URL with a fresh `state` bound to this
/// browser (or straight to the consent page, see [`same_browser_may_skip_sca`]).
#[post("/connect/{token}")]
pub async fn connect_continue(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    token: web::Path<String>,
    form: web::Form<ContinueForm>,
) -> HttpResponse {
    let t = texts(&req);
    if !same_origin(&req, &state.config.public_url) {
        return error_page(StatusCode::FORBIDDEN, t, t.cross_site);
    }
    let connection = match live_link(&state, &token.into_inner()).await {
        Ok(Some(connection)) => connection,
        Ok(None) => return error_page(StatusCode::GONE, t, t.link_invalid),
        Err(e) => {
            tracing::error!(error = %e, "connect continue");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    if form.cancel.is_some() {
        return fail(
            &state,
            &connection,
            JourneyError::new("cancelled", "the user cancelled"),
        )
        .await;
    }
    let browser = match BrowserBinding::of(&req, &state.config.public_url) {
        Ok(browser) => browser,
        Err(e) => return fail(&state, &connection, JourneyError::internal(e)).await,
    };
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, JourneyError::internal(e)).await,
    };
    let mut response =
        if same_browser_may_skip_sca(&connection, &browser.hash(), state.clock.stored_now()) {
            let psu = psu::from_request(&req, state.clock.now());
            let shown = consent_page(
                &state,
                &connector,
                &connection,
                &psu,
                &browser.hash(),
                Proof::SameBrowser,
                t,
            )
            .await;
            match shown {
                Ok(page) => page,
                Err(f) => fail(&state, &connection, f).await,
            }
        } else {
            match authorize::start(&state, connector.as_ref(), &connection, &browser.hash()).await {
                Ok(url) => see_other(&url),
                Err(f) => fail(&state, &connection, f).await,
            }
        };
    if let Err(e) = response.add_cookie(&browser.cookie()) {
        tracing::error!(error = %e, "journey cookie");
        return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
    }
    response
}
