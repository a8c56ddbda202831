//! The journey: `GET/POST /connect/{token}` (what will be shared, then off to the bank with a
//! fresh single-use `state`), `GET /callback` (state check, code exchange, sealed tokens, the
//! consent page), `POST /consent/{token}` (`PUT /consents`, accounts, first sync with the PSU
//! present, back to the app).
//!
//! Every link, state and form is single-use, short-lived, bound to one connection and to the
//! browser that started the journey ([`binding`]); when a journey ends, well or not, every other
//! link, state and form of its connection dies with it.

pub mod binding;
mod connect;
mod consent;
mod oauth_callback;

pub use connect::{connect_continue, connect_page};
pub use consent::consent_submit;
pub use oauth_callback::callback;

use actix_web::http::header::LOCATION;
use actix_web::HttpResponse;
use url::Url;

use crate::app::AppState;
use crate::store::models::ConnectionRow;
use crate::store::{self, connections, sca_challenges, StoreError};

/// How long the bank's `state` stays valid.
const STATE_TTL_MINUTES: i64 = 15;
/// How long the consent form stays valid.
const CONSENT_FORM_TTL_MINUTES: i64 = 30;
/// How long after an SCA the same browser may change what is shared without a new SCA.
pub const SAME_BROWSER_WINDOW_MINUTES: i64 = 15;

/// Where the journey failed, as the app sees it in `error=`.
#[derive(Debug)]
struct Failure {
    code: &'static str,
    detail: String,
}

impl Failure {
    fn new(code: &'static str, detail: impl ToString) -> Self {
        Self {
            code,
            detail: detail.to_string(),
        }
    }
}

fn internal(e: impl ToString) -> Failure {
    Failure::new("internal_error", e)
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        internal(e)
    }
}

impl From<diesel::result::Error> for Failure {
    fn from(e: diesel::result::Error) -> Self {
        internal(e)
    }
}

fn see_other(to: &str) -> HttpResponse {
    let mut response = HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    super::page_headers(&mut response);
    response
}

/// The app's `redirect_url` with the journey's outcome.
fn back_to_app(connection: &ConnectionRow, status: &str, error: Option<&str>) -> HttpResponse {
    match Url::parse(&connection.redirect_url) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("connection_id", &connection.id);
                q.append_pair("status", status);
                if let Some(error) = error {
                    q.append_pair("error", error);
                }
            }
            see_other(url.as_str())
        }
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// Records the failure on the connection, kills every link, state and form it still has (the
/// app is told `error`: a retry is a new link from `POST /v1/connections/{id}/reauthorize`),
/// and sends the browser back to the app.
async fn fail(state: &AppState, connection: &ConnectionRow, failure: Failure) -> HttpResponse {
    // The detail may come from a bank; it is logged without any token (none is ever in it).
    tracing::warn!(connection = %connection.id, code = failure.code, detail = %failure.detail, "journey failed");
    let (id, code) = (connection.id.clone(), failure.code.to_owned());
    let keep_active = connection.status == "active";
    let ended = store::run(&state.pool, move |conn| {
        store::write_transaction(conn, |conn| {
            if !keep_active {
                connections::update(conn, &id, connections::ConnectionUpdate::Failed { code })?;
            }
            sca_challenges::consume_all_for_connection(conn, &id, store::now())?;
            Ok(())
        })
    })
    .await;
    if let Err(e) = ended {
        tracing::error!(connection = %connection.id, error = %e, "recording a failed journey");
    }
    back_to_app(connection, "error", Some(failure.code))
}
