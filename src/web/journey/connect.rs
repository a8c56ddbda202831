//! `GET /connect/{token}` names the bank and what will be shared; `POST /connect/{token}` binds
//! the browser and sends it to the bank with a fresh `state`, or, for a consent change asked for
//! by the browser that passed SCA minutes ago, straight to the consent page.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::Duration;
use secrecy::ExposeSecret;
use serde::Deserialize;
use url::Url;

use super::binding::{same_origin, BrowserBinding};
use super::consent::{consent_page, Proof};
use super::{fail, internal, see_other, Failure, SAME_BROWSER_WINDOW_MINUTES, STATE_TTL_MINUTES};
use crate::app::AppState;
use crate::connect::banks::{BankConnector, BankConnectors};
use crate::connect::{psu, random_token, token_hash};
use crate::store::models::{ConnectionRow, ScaChallengeRow};
use crate::store::{self, connections, sca_challenges, StoreError};
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

/// The live connect link with this token and its connection (not revoked).
async fn live_link(state: &AppState, token: &str) -> Result<Option<ConnectionRow>, StoreError> {
    let hash = token_hash(token);
    store::run(&state.pool, move |conn| {
        let Some(link) = sca_challenges::find_live(conn, &hash, "connect_link", store::now())?
        else {
            return Ok(None);
        };
        let Some(connection_id) = link.connection_id else {
            return Ok(None);
        };
        Ok(connections::find(conn, &connection_id)?.filter(|c| c.status != "revoked"))
    })
    .await
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

/// Whether this browser may change what the connection shares without a new SCA: the tokens
/// are good, and it is the browser that passed the last SCA, back within
/// [`SAME_BROWSER_WINDOW_MINUTES`]. Neither the app (it has no journey cookie) nor whoever else
/// holds the link is the PSU; the `PSU-*` headers an app could forward prove nothing.
fn same_browser_may_skip_sca(connection: &ConnectionRow, browser_hash: &str) -> bool {
    let now = store::now();
    connection.status == "active"
        && connection.consent_expires_at.is_some_and(|e| e > now)
        && connection.sca_browser_hash.as_deref() == Some(browser_hash)
        && connection
            .sca_at
            .is_some_and(|at| at + Duration::minutes(SAME_BROWSER_WINDOW_MINUTES) > now)
}

/// `POST /connect/{token}`: off to the bank's authorize URL with a fresh `state` bound to this
/// browser (or straight to the consent page, see [`same_browser_may_skip_sca`]).
#[post("/connect/{token}")]
pub async fn connect_continue(
    req: HttpRequest,
    state: web::Data<AppState>,
    connectors: web::Data<BankConnectors>,
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
            Failure::new("cancelled", "the user cancelled"),
        )
        .await;
    }
    let browser = match BrowserBinding::of(&req, &state.config.public_url) {
        Ok(browser) => browser,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    let connector = match connectors.get(&connection.bank_id) {
        Ok(c) => c,
        Err(e) => return fail(&state, &connection, internal(e)).await,
    };
    let mut response = if same_browser_may_skip_sca(&connection, &browser.hash()) {
        let psu = psu::from_request(&req);
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
        match start_authorization(&state, &connector, &connection, &browser.hash()).await {
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

/// Where the bank sends the browser back.
pub(super) fn redirect_uri(state: &AppState) -> Result<Url, Failure> {
    state.config.public_url.join("callback").map_err(internal)
}

/// Creates the single-use `state` challenge, bound to the browser (PKCE verifier sealed with
/// it), and returns the bank's authorize URL.
async fn start_authorization(
    state: &AppState,
    connector: &BankConnector,
    connection: &ConnectionRow,
    browser_hash: &str,
) -> Result<String, Failure> {
    let oauth_state = random_token().map_err(internal)?;
    let redirect = redirect_uri(state)?;
    let authorization = connector
        .oauth
        .authorize_url(&redirect, &["aisp"], &oauth_state);
    let id = store::new_id();
    let pkce_verifier_sealed = authorization
        .pkce_verifier
        .as_ref()
        .map(|v| {
            state.keyring.seal_str(
                v.expose_secret(),
                format!("sca_challenges:{id}:pkce").as_bytes(),
            )
        })
        .transpose()
        .map_err(internal)?;
    let now = store::now();
    let row = ScaChallengeRow {
        id,
        purpose: "oauth_state".into(),
        connection_id: Some(connection.id.clone()),
        payment_id: None,
        state_hash: token_hash(&authorization.state),
        pkce_verifier_sealed,
        expires_at: now + Duration::minutes(STATE_TTL_MINUTES),
        consumed_at: None,
        created_at: now,
        browser_hash: Some(browser_hash.to_owned()),
        proof: None,
    };
    store::run(&state.pool, move |conn| {
        Ok(sca_challenges::insert(conn, &row)?)
    })
    .await
    .map_err(internal)?;
    Ok(authorization.url.to_string())
}
