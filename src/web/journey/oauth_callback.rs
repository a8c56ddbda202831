//! `GET /callback`: the bank sends the browser back with a `code` and the `state`. The state must
//! be live and come back in the browser it was given to; then the code is exchanged, the tokens
//! sealed, every other link and state of the connection killed, and the consent page shown.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::binding::browser_hash;
use super::consent::consent_page;
use super::fail;
use crate::bank::Connectors;
use crate::connect::callback::{finish, redeem_state, Refused};
use crate::connect::consent::Proof;
use crate::connect::failure::JourneyError;
use crate::connect::psu;
use crate::state::AppState;
use crate::web::error_page;
use crate::web::i18n::texts;

/// The bank's answer on `/callback`.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: checks the `state` (unknown, expired, replayed or from another browser → an
/// error page, nothing stored), exchanges the code, seals the tokens, then shows the consent
/// page.
#[get("/callback")]
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let t = texts(&req);
    let query = query.into_inner();
    let Some(oauth_state) = query.state.filter(|s| !s.is_empty()) else {
        return error_page(StatusCode::BAD_REQUEST, t, t.state_invalid);
    };
    let browser = browser_hash(&req, &state.config.public_url);
    let consumed = redeem_state(&state, &oauth_state, browser).await;
    let (challenge, connection) = match consumed {
        Ok(Ok(found)) => found,
        Ok(Err(Refused::OtherBrowser)) => {
            tracing::warn!("callback refused: the state came back in another browser");
            return error_page(StatusCode::BAD_REQUEST, t, t.other_browser);
        }
        Ok(Err(Refused::State(reason))) => {
            tracing::info!(?reason, "callback refused: state not usable");
            return error_page(StatusCode::BAD_REQUEST, t, t.state_invalid);
        }
        Err(e) => {
            tracing::error!(error = %e, "callback");
            return error_page(StatusCode::INTERNAL_SERVER_ERROR, t, t.bank_failed);
        }
    };
    if let Some(error) = query.error {
        let code = if error == "access_denied" {
            "access_denied"
        } else {
            "bank_error"
        };
        return fail(&state, &connection, JourneyError::new(code, error)).await;
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return fail(
            &state,
            &connection,
            JourneyError::new("bank_error", "no code"),
        )
        .await;
    };
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, JourneyError::internal(e)).await,
    };
    let psu = psu::from_request(&req, state.clock.now());
    let browser = challenge.browser_hash.clone().unwrap_or_default();
    match finish(&state, connector.as_ref(), &connection, &challenge, code).await {
        Ok(authorized) => {
            let shown = consent_page(
                &state,
                &connector,
                &authorized,
                &psu,
                &browser,
                Proof::Sca,
                t,
            )
            .await;
            match shown {
                Ok(page) => page,
                Err(f) => fail(&state, &connection, f).await,
            }
        }
        Err(f) => fail(&state, &connection, f).await,
    }
}
