//! `POST /simplefin/claim/{token}`: the setup token's claim URL, traded once for the access URL
//! with fresh HTTP Basic credentials. A claimed, expired, revoked or unknown token answers 403.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpResponse};

use super::{refusal, BASE_PATH};
use crate::connect::{random_token, token_hash};
use crate::state::AppState;
use crate::store::{self, simplefin};

/// The access URL's user name: public, it finds the access.
fn username() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(format!("sfin{}", hex::encode(bytes)))
}

/// `POST /simplefin/claim/{token}`.
#[post("/simplefin/claim/{token}")]
pub async fn claim(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let (user, secret) = match (username(), random_token()) {
        (Ok(user), Ok(secret)) => (user, secret),
        _ => return refusal(StatusCode::INTERNAL_SERVER_ERROR, "no randomness"),
    };
    let mut access = match state.config.public_url.join(BASE_PATH) {
        Ok(url) => url,
        Err(_) => return refusal(StatusCode::INTERNAL_SERVER_ERROR, "no access URL"),
    };
    if access.set_username(&user).is_err() || access.set_password(Some(&secret)).is_err() {
        return refusal(StatusCode::INTERNAL_SERVER_ERROR, "no access URL");
    }
    let (hash, secret_hash, name, now) = (
        token_hash(&token.into_inner()),
        token_hash(&secret),
        user.clone(),
        state.clock.stored_now(),
    );
    let claimed = store::run(&state.pool, move |conn| {
        Ok(simplefin::claim(conn, &hash, &name, &secret_hash, now)?)
    })
    .await;
    match claimed {
        Ok(true) => {
            let mut response = HttpResponse::Ok()
                .content_type("text/plain; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(access.to_string());
            crate::web::page_headers(&mut response);
            response
        }
        Ok(false) => refusal(
            StatusCode::FORBIDDEN,
            "This setup token is unknown, already claimed, revoked or expired.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "simplefin claim");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
