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
mod payment;

pub use connect::{connect_continue, connect_page};
pub use consent::consent_submit;
pub use oauth_callback::callback;
pub use payment::{pay_continue, pay_page, pay_return};

use actix_web::http::header::LOCATION;
use actix_web::HttpResponse;
use url::Url;

use crate::connect::failure::{record_failure, JourneyError};
use crate::state::AppState;
use crate::store::models::ConnectionRow;

/// A 303 to `to`, never cached, with the pages' security headers.
pub(crate) fn see_other(to: &str) -> HttpResponse {
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

/// Records the failure (see [`record_failure`]) and sends the browser back to the app with
/// its code.
async fn fail(state: &AppState, connection: &ConnectionRow, failure: JourneyError) -> HttpResponse {
    record_failure(state, connection, &failure).await;
    back_to_app(connection, "error", Some(failure.code))
}
