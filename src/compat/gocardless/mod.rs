//! A GoCardless Bank Account Data (v2)-compatible API at `/api/v2/`, exactly GoCardless's own
//! paths (trailing slashes included), for the apps that speak it (Actual Budget, Firefly III's
//! importer): tokens from a secret pair the API client minted, institutions from the registry,
//! end-user agreements, requisitions (each a connection, whose `link` is Passerelle's connect
//! journey), and accounts read from the store — never a bank call on the request path, never a
//! refusal for quota. Errors are GoCardless's `{summary, detail, status_code}`.

pub mod accounts;
pub mod institutions;
pub mod requisitions;
pub mod token;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::connect::token_hash;
use crate::state::AppState;
use crate::store::{self, gocardless};

/// Mounts the API under `/api/v2`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let json = web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|e, _| {
            let detail = e.to_string();
            actix_web::error::InternalError::from_response(
                e,
                GcError::new(StatusCode::BAD_REQUEST, "Invalid request", detail).into_response(),
            )
            .into()
        });
    cfg.service(
        web::scope("/api/v2")
            .app_data(json)
            .route("/token/new/", web::post().to(token::new))
            .route("/token/refresh/", web::post().to(token::refresh))
            .route("/institutions/", web::get().to(institutions::list))
            .route("/institutions/{id}/", web::get().to(institutions::show))
            .route(
                "/agreements/enduser/",
                web::post().to(requisitions::create_agreement),
            )
            .route(
                "/agreements/enduser/{id}/",
                web::get().to(requisitions::show_agreement),
            )
            .route("/requisitions/", web::post().to(requisitions::create))
            .route("/requisitions/", web::get().to(requisitions::list))
            .route("/requisitions/{id}/", web::get().to(requisitions::show))
            .route(
                "/requisitions/{id}/",
                web::delete().to(requisitions::remove),
            )
            .route("/accounts/{id}/", web::get().to(accounts::show))
            .route("/accounts/{id}/details/", web::get().to(accounts::details))
            .route(
                "/accounts/{id}/balances/",
                web::get().to(accounts::balances),
            )
            .route(
                "/accounts/{id}/transactions/",
                web::get().to(accounts::transactions),
            )
            .default_service(web::to(|| async {
                GcError::new(StatusCode::NOT_FOUND, "Not found.", "Not found.").into_response()
            })),
    );
}

/// An error in GoCardless's shape.
#[derive(Debug)]
pub struct GcError {
    status: StatusCode,
    summary: String,
    detail: String,
}

impl GcError {
    /// An error with its status, summary and detail.
    pub fn new(status: StatusCode, summary: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            summary: summary.into(),
            detail: detail.into(),
        }
    }

    /// 401 `Invalid token`: Actual renews its token and retries once.
    fn invalid_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Invalid token",
            "Token is invalid or expired",
        )
    }

    /// 404 for a resource of another API client or none.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Not found.",
            format!("{what} {id} not found"),
        )
    }

    /// 500, the cause logged.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "gocardless-compatible API");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "Passerelle failed; the cause is logged",
        )
    }

    /// The response.
    pub fn into_response(self) -> HttpResponse {
        HttpResponse::build(self.status).json(json!({
            "summary": self.summary,
            "detail": self.detail,
            "status_code": self.status.as_u16(),
        }))
    }
}

impl From<crate::store::StoreError> for GcError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<diesel::result::Error> for GcError {
    fn from(e: diesel::result::Error) -> Self {
        Self::internal(e)
    }
}

/// The answer of a handler.
pub type GcResult = Result<HttpResponse, GcError>;

/// Turns a handler's result into its response.
pub fn answer(result: GcResult) -> HttpResponse {
    result.unwrap_or_else(GcError::into_response)
}

/// The API client behind the request's `Authorization: Bearer <access token>`.
pub async fn client_of(req: &HttpRequest, state: &AppState) -> Result<String, GcError> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            GcError::new(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.",
                "Authentication credentials were not provided.",
            )
        })?;
    let (hash, now) = (token_hash(token), state.clock.stored_now());
    let secret = store::run(&state.pool, move |conn| {
        Ok(gocardless::secret_of_token(
            conn,
            &hash,
            token::ACCESS,
            now,
        )?)
    })
    .await?;
    secret
        .map(|s| s.api_client_id)
        .ok_or_else(GcError::invalid_token)
}
