//! `POST /api/v2/token/new/` and `/token/refresh/`: JWTs for a secret pair. Their `exp` is what
//! the apps read to renew; their validity is checked against the store (by SHA-256), so
//! revoking the pair stops them at once. The signature (HMAC-SHA256 under the pair's key hash)
//! only binds a token to its pair.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{Duration, NaiveDateTime};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::Deserialize;
use serde_json::json;

use super::{answer, GcError, GcResult};
use crate::connect::{random_token, token_hash};
use crate::state::AppState;
use crate::store::models::{GocardlessSecretRow, GocardlessTokenRow};
use crate::store::{self, gocardless};

/// The stored kind of an access token.
pub const ACCESS: &str = "access";
/// The stored kind of a refresh token.
pub const REFRESH: &str = "refresh";
/// An access token's lifetime, as GoCardless's (a day).
const ACCESS_SECONDS: i64 = 86_400;
/// A refresh token's lifetime, as GoCardless's (30 days).
const REFRESH_SECONDS: i64 = 30 * 86_400;

/// `token/new` body.
#[derive(Debug, Deserialize)]
pub struct NewToken {
    secret_id: String,
    secret_key: String,
}

/// `token/refresh` body.
#[derive(Debug, Deserialize)]
pub struct RefreshToken {
    refresh: String,
}

fn jwt(
    secret: &GocardlessSecretRow,
    kind: &str,
    now: NaiveDateTime,
    seconds: i64,
) -> Result<String, GcError> {
    let jti = random_token().map_err(GcError::internal)?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        json!({
            "token_type": kind,
            "exp": now.and_utc().timestamp() + seconds,
            "iat": now.and_utc().timestamp(),
            "jti": jti,
            "secret_id": secret.id,
        })
        .to_string(),
    );
    let signing_input = format!("{header}.{payload}");
    let key = PKey::hmac(secret.secret_key_hash.as_bytes()).map_err(GcError::internal)?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key).map_err(GcError::internal)?;
    signer
        .update(signing_input.as_bytes())
        .map_err(GcError::internal)?;
    let signature = signer.sign_to_vec().map_err(GcError::internal)?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// Mints a token of `kind` for `secret` and stores its hash.
async fn mint(
    state: &AppState,
    secret: &GocardlessSecretRow,
    kind: &'static str,
    seconds: i64,
) -> Result<String, GcError> {
    let now = state.clock.stored_now();
    let token = jwt(secret, kind, now, seconds)?;
    let row = GocardlessTokenRow {
        token_hash: token_hash(&token),
        secret_id: secret.id.clone(),
        kind: kind.to_owned(),
        expires_at: now + Duration::seconds(seconds),
        created_at: now,
    };
    store::run(&state.pool, move |conn| {
        gocardless::prune_tokens(conn, now)?;
        Ok(gocardless::insert_token(conn, &row)?)
    })
    .await?;
    Ok(token)
}

fn refused() -> GcError {
    GcError::new(
        StatusCode::UNAUTHORIZED,
        "Authentication failed",
        "No active account found with the given credentials",
    )
}

/// `POST /api/v2/token/new/`.
pub async fn new(state: web::Data<AppState>, body: web::Json<NewToken>) -> HttpResponse {
    answer(new_pair(&state, body.into_inner()).await)
}

async fn new_pair(state: &AppState, body: NewToken) -> GcResult {
    let id = body.secret_id.clone();
    let secret = store::run(&state.pool, move |conn| {
        Ok(gocardless::live_secret(conn, &id)?)
    })
    .await?
    .ok_or_else(refused)?;
    let presented = token_hash(&body.secret_key);
    if !openssl::memcmp::eq(presented.as_bytes(), secret.secret_key_hash.as_bytes()) {
        return Err(refused());
    }
    let access = mint(state, &secret, ACCESS, ACCESS_SECONDS).await?;
    let refresh = mint(state, &secret, REFRESH, REFRESH_SECONDS).await?;
    Ok(HttpResponse::Ok().json(json!({
        "access": access,
        "access_expires": ACCESS_SECONDS,
        "refresh": refresh,
        "refresh_expires": REFRESH_SECONDS,
    })))
}

/// `POST /api/v2/token/refresh/`.
pub async fn refresh(state: web::Data<AppState>, body: web::Json<RefreshToken>) -> HttpResponse {
    answer(refreshed(&state, body.into_inner()).await)
}

async fn refreshed(state: &AppState, body: RefreshToken) -> GcResult {
    let (hash, now) = (token_hash(&body.refresh), state.clock.stored_now());
    let secret = store::run(&state.pool, move |conn| {
        Ok(gocardless::secret_of_token(conn, &hash, REFRESH, now)?)
    })
    .await?
    .ok_or_else(|| {
        GcError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid token",
            "Token is invalid or expired",
        )
    })?;
    let access = mint(state, &secret, ACCESS, ACCESS_SECONDS).await?;
    Ok(HttpResponse::Ok().json(json!({
        "access": access,
        "access_expires": ACCESS_SECONDS,
    })))
}
