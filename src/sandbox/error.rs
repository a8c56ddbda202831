//! The sandbox's API errors, answered as STET `ErrorModel` bodies
//! (`{timestamp, status, error, message}`), and OAuth errors as RFC 6749 bodies.

use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// An error from a STET API call.
#[derive(Debug, thiserror::Error)]
pub enum StetError {
    /// 400: malformed request, bad or missing signature, bad dates.
    #[error("{0}")]
    BadRequest(String),
    /// 401 `invalid_token`: unknown, expired or revoked access token.
    #[error("{0}")]
    InvalidToken(String),
    /// 403: wrong scope, no consent, certificate of another TPP.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the resource exists but not with this method.
    #[error("method not allowed on this resource")]
    MethodNotAllowed,
    /// 409: the request conflicts with the resource's state (second confirmation).
    #[error("{0}")]
    Conflict(String),
    /// 429: the batch limit, or an injected fault.
    #[error("{0}")]
    TooManyRequests(String),
    /// 501: implemented but not available in this context (trusted beneficiaries).
    #[error("{0}")]
    NotImplemented(String),
    /// 500 or 503 (injected faults), with `Retry-After`.
    #[error("{message}")]
    Unavailable {
        /// 500 or 503.
        status: StatusCode,
        /// What to say.
        message: String,
    },
}

impl StetError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// A 403 with `message`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }
}

impl ResponseError for StetError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let error = match self {
            Self::InvalidToken(_) => "invalid_token".to_owned(),
            _ => status.canonical_reason().unwrap_or("Error").to_owned(),
        };
        let mut message = self.to_string();
        // ErrorModel caps message at 140 characters.
        if message.len() > 140 {
            let mut cut = 137;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str("...");
        }
        let body = json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "status": status.as_u16(),
            "error": error,
            "message": message,
        });
        let mut response = HttpResponse::build(status);
        match self {
            Self::InvalidToken(_) => {
                response.insert_header((
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                ));
            }
            Self::TooManyRequests(_) | Self::Unavailable { .. } => {
                response.insert_header(("Retry-After", "1"));
            }
            _ => {}
        }
        response.json(body)
    }
}

/// An error from the OAuth token or revocation endpoint (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// HTTP status (400 or 401).
    pub status: StatusCode,
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`, `invalid_scope`.
    pub code: &'static str,
    /// Human-readable detail.
    pub description: String,
}

impl OAuthError {
    /// A 400 with `code`.
    pub fn bad(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code,
            description: description.into(),
        }
    }

    /// A 401 `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_client",
            description: description.into(),
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({"error": self.code, "error_description": self.description}))
    }
}
