//! The resource side of OAuth: every `/v1` and core-connect call carries a Bearer access token
//! the simulator issued and that has not expired, else 401 `authentication_error`; writes need
//! `read_write`, else 403 `authorization_error`. An end-user token only sees that user's data
//! (001:660-663).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use super::error::TreezorError;
use super::ledger::Wallet;
use super::state::Inner;

/// Who is calling, from the access token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The end user (`None` for a program token).
    pub user_id: Option<u64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Whether this token's session was opened with an SCA (and, being unexpired, is active).
    pub with_sca: bool,
    /// The access token itself: a proof presented on a per-session call opens its session.
    pub token: String,
}

impl Caller {
    /// The end user, or 403 for a program (`client_credentials`) token: the simulator serves
    /// user data to delegated end-user tokens only.
    pub fn user(&self) -> Result<u64, TreezorError> {
        self.user_id.ok_or_else(|| {
            TreezorError::forbidden("this endpoint needs an end-user token, not a program token")
        })
    }

    /// 403 unless the token has `read_write` (POST, PUT, DELETE).
    pub fn require_write(&self) -> Result<(), TreezorError> {
        if self.scopes.iter().any(|s| s == "read_write") {
            Ok(())
        } else {
            Err(TreezorError::forbidden(
                "this call needs the read_write scope",
            ))
        }
    }

    /// 403 unless the token has `read_only` or `read_write` (GET).
    pub fn require_read(&self) -> Result<(), TreezorError> {
        if self
            .scopes
            .iter()
            .any(|s| s == "read_only" || s == "read_write")
        {
            Ok(())
        } else {
            Err(TreezorError::forbidden(
                "this call needs the read_only scope",
            ))
        }
    }
}

/// The caller behind the request's Bearer token.
pub fn authenticate(
    req: &HttpRequest,
    inner: &Inner,
    now: DateTime<Utc>,
) -> Result<Caller, TreezorError> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TreezorError::Unauthenticated("missing Bearer access token".into()))?;
    let session = inner
        .tokens
        .get(token)
        .ok_or_else(|| TreezorError::Unauthenticated("unknown access token".into()))?;
    if session.expires_at <= now {
        return Err(TreezorError::Unauthenticated(
            "the access token has expired".into(),
        ));
    }
    Ok(Caller {
        user_id: session.user_id,
        scopes: session.scopes.clone(),
        with_sca: session.with_sca,
        token: token.to_owned(),
    })
}

/// The wallet `wallet_id` of `user_id`: 404 when unknown, 403 when another user's.
pub fn own_wallet(inner: &Inner, user_id: u64, wallet_id: u64) -> Result<Wallet, TreezorError> {
    let wallet = inner
        .ledger
        .wallet(wallet_id)
        .ok_or_else(|| TreezorError::not_found(format!("no wallet {wallet_id}")))?;
    if wallet.user_id != user_id {
        return Err(TreezorError::forbidden(format!(
            "wallet {wallet_id} is not this user's"
        )));
    }
    Ok(wallet.clone())
}
