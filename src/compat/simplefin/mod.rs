//! SimpleFIN Bridge (v1 shape, as Actual Budget, Firefly III's importer and Sure parse it).
//!
//! The API client creates an access for one of its users (`POST /v1/users/{user_id}/simplefin`):
//! a setup token, the base64 of a one-time claim URL `<public URL>simplefin/claim/<token>`. The
//! app `POST`s to it once and receives, as plain text, an access URL
//! `scheme://USER:PASS@host/…/simplefin`; it then reads `GET …/simplefin/accounts` with those
//! credentials (HTTP Basic). The claim token and the password are bearers: only their SHA-256 is
//! stored; the user name is public and finds the row.

pub mod accounts;
pub mod claim;

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;
use chrono::{Duration, NaiveDateTime};
use url::Url;

use crate::connect::{random_token, token_hash};
use crate::store::models::SimplefinAccessRow;

/// How long a setup token may be claimed.
pub const CLAIM_TTL_MINUTES: i64 = 60;

/// The path under the public URL where SimpleFIN is served.
pub const BASE_PATH: &str = "simplefin";

/// A new access and its setup token (the only time the claim URL exists in clear).
pub struct NewAccess {
    /// The row to store.
    pub row: SimplefinAccessRow,
    /// `base64(<public URL>simplefin/claim/<token>)`.
    pub setup_token: String,
}

/// A new, unclaimed access for the user `user_id` of `api_client_id`.
pub fn new_access(
    public_url: &Url,
    api_client_id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<NewAccess, AccessError> {
    use base64::Engine as _;
    let token = random_token()?;
    let claim_url = public_url.join(&format!("{BASE_PATH}/claim/{token}"))?;
    let row = SimplefinAccessRow {
        id: crate::store::new_id(),
        api_client_id: api_client_id.to_owned(),
        user_id: user_id.to_owned(),
        claim_hash: token_hash(&token),
        claim_expires_at: now + Duration::minutes(CLAIM_TTL_MINUTES),
        claimed_at: None,
        username: None,
        secret_hash: None,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    Ok(NewAccess {
        row,
        setup_token: base64::engine::general_purpose::STANDARD.encode(claim_url.as_str()),
    })
}

/// Why an access could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// No randomness.
    #[error("no random bytes for a SimpleFIN access")]
    Random(#[from] openssl::error::ErrorStack),
    /// The public URL cannot carry the claim or access URL.
    #[error("the public URL cannot carry a SimpleFIN URL")]
    Url(#[from] url::ParseError),
}

/// A SimpleFIN refusal: the status and a plain-text reason, as SimpleFIN servers answer.
fn refusal(status: actix_web::http::StatusCode, text: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(text.to_owned());
    crate::web::page_headers(&mut response);
    response
}
