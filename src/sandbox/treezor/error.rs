//! Treezor's error answers: the current envelope
//! `{"errors":[{type,code,message,requestId,docUrl}]}` (001:6288-6359) for almost everything, and
//! the legacy `{"error":"…"}` (001:6325) where the contract keeps it (`/v1/cardtransactions` date
//! parameters). OAuth endpoints answer RFC 6749 bodies through the STET sandbox's `OAuthError`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// Where Treezor points its errors.
pub const DOC_URL: &str = "https://docs.treezor.com";

/// An error from a Treezor API call.
#[derive(Debug, thiserror::Error)]
pub enum TreezorError {
    /// 401 `invalid_grant` / `authentication_error`: missing, unknown or expired token.
    #[error("{0}")]
    Unauthenticated(String),
    /// 403 `unauthorized` / `authorization_error`: wrong scope, another user's resource.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `unauthorized` / an SCA code (`sca_required`, `sca_session_required`,
    /// `sca_proof_required`, `sca_proof_invalid`).
    #[error("{message}")]
    Sca {
        /// The stable code.
        code: &'static str,
        /// What is missing or wrong.
        message: String,
    },
    /// 400 `invalid_request` / `input_validation_error`.
    #[error("{0}")]
    Invalid(String),
    /// 404 `invalid_request` / `resource_not_found_error`.
    #[error("{0}")]
    NotFound(String),
    /// The legacy shape `{"error": message}` with this status.
    #[error("{message}")]
    Legacy {
        /// The HTTP status.
        status: StatusCode,
        /// The whole body's one string.
        message: String,
    },
    /// 500 `unexpected_internal_server_error` / `unexpected_error`.
    #[error("{0}")]
    Internal(String),
}

impl TreezorError {
    /// A 400 `input_validation_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// A 403 `authorization_error`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// A 404 `resource_not_found_error`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A 403 with an SCA `code`.
    pub fn sca(code: &'static str, message: impl Into<String>) -> Self {
        Self::Sca {
            code,
            message: message.into(),
        }
    }

    /// The error's `(type, code)` pair in the current envelope.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Self::Unauthenticated(_) => ("invalid_grant", "authentication_error"),
            Self::Forbidden(_) => ("unauthorized", "authorization_error"),
            Self::Sca { code, .. } => ("unauthorized", code),
            Self::Invalid(_) => ("invalid_request", "input_validation_error"),
            Self::NotFound(_) => ("invalid_request", "resource_not_found_error"),
            Self::Legacy { .. } => ("invalid_request", "input_validation_error"),
            Self::Internal(_) => ("unexpected_internal_server_error", "unexpected_error"),
        }
    }
}

impl ResponseError for TreezorError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Sca { .. } => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Legacy { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = match self {
            Self::Legacy { message, .. } => json!({ "error": message }),
            _ => {
                let (kind, code) = self.kind();
                json!({"errors": [{
                    "type": kind,
                    "code": code,
                    "message": self.to_string(),
                    "requestId": uuid::Uuid::new_v4().to_string(),
                    "docUrl": DOC_URL,
                }]})
            }
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer error=\"invalid_token\""));
        }
        response.json(body)
    }
}
