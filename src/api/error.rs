//! The JSON API's one error type, rendered as `application/problem+json` (RFC 9457) with a stable
//! machine-readable `code`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::sca::ScaView;
use crate::store::StoreError;

/// An error answered by the JSON API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or an unknown API key.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// The resource does not exist for this API client (whether or not it exists elsewhere).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request field is invalid.
    #[error("invalid `{field}`: {message}")]
    Validation {
        /// The offending field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(&'static str),
    /// The path exists but not with this method; holds the methods it has, for `Allow`.
    #[error("method not allowed here; this path allows {0}")]
    MethodNotAllowed(String),
    /// The database failed; the cause is logged, never shown.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// Something else failed inside Passerelle; the cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The read needs the user first: the provider's SCA freshness policy refused it and
    /// nothing was sent. The problem carries the challenge as `sca`.
    #[error("the user must pass strong customer authentication first (see `sca`)")]
    ScaRequired(Box<ScaView>),
    /// A connect link could not be issued; the cause is logged, never shown.
    #[error("internal error")]
    Link(#[from] crate::connect::link::LinkError),
    /// Without the user, the bank's unattended calls for today are spent: nothing was sent.
    /// The problem carries `retry_at`, when they reset (the bank's midnight).
    #[error("the bank's unattended calls for this connection are spent for today (see `retry_at`); with the user present (PSU-IP-Address) the sync is not limited")]
    QuotaExhausted {
        /// When the provider's day ends.
        retry_at: chrono::DateTime<chrono::Utc>,
    },
    /// A payment creation without an `Idempotency-Key` header.
    #[error("the Idempotency-Key header is required: a retried request must not pay twice")]
    IdempotencyKeyRequired,
    /// The idempotency key was used before with another body.
    #[error("this Idempotency-Key was used with another request body")]
    IdempotencyKeyReused,
    /// The first request with this idempotency key has not finished yet.
    #[error("a request with this Idempotency-Key is still being processed; retry later")]
    IdempotencyKeyInFlight,
    /// The bank cannot do what the request asks; nothing was sent. `field` names the capability.
    #[error("{message}")]
    UnsupportedByBank {
        /// The capability (`instant`, `future_dated`, `debtor_choice`, `currency`,
        /// `funds_confirmation`, `payments`).
        capability: &'static str,
        /// What the bank lacks.
        message: String,
    },
    /// The bank failed or refused a call the request needed; nothing changed.
    #[error("the bank did not answer the call: {0}")]
    Bank(String),
}

impl ApiError {
    /// A validation error naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable code the budgeting app can match on.
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::Unauthorized => ProblemCode::Unauthorized,
            Self::NotFound(_) => ProblemCode::NotFound,
            Self::Validation { .. } => ProblemCode::ValidationFailed,
            Self::Conflict(_) => ProblemCode::Conflict,
            Self::MethodNotAllowed(_) => ProblemCode::MethodNotAllowed,
            Self::ScaRequired(_) => ProblemCode::ScaRequired,
            Self::QuotaExhausted { .. } => ProblemCode::QuotaExhausted,
            Self::IdempotencyKeyRequired => ProblemCode::IdempotencyKeyRequired,
            Self::IdempotencyKeyReused => ProblemCode::IdempotencyKeyReused,
            Self::IdempotencyKeyInFlight => ProblemCode::IdempotencyKeyInFlight,
            Self::UnsupportedByBank { .. } => ProblemCode::UnsupportedByBank,
            Self::Bank(_) => ProblemCode::BankUnavailable,
            Self::Store(_) | Self::Internal(_) | Self::Link(_) => ProblemCode::Internal,
        }
    }
}

/// The stable, machine-readable codes of problem documents: one per kind of failure, whatever
/// the words of `detail` become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// 401: no API key, or one that is unknown or revoked, or whose client is disabled.
    Unauthorized,
    /// 404: nothing by that id for this API client (whether or not it exists for another).
    NotFound,
    /// 422: a path, query or body field is invalid; `field` names it.
    ValidationFailed,
    /// 409: the request conflicts with the resource's state.
    Conflict,
    /// 405: the path exists but not with this method; `Allow` lists the methods it has.
    MethodNotAllowed,
    /// 409: the read needs a fresh SCA; `sca` is the challenge to resolve, then retry.
    ScaRequired,
    /// 429: without the user, the bank's calls for today are spent; `retry_at` says when they
    /// reset (also as `Retry-After`).
    QuotaExhausted,
    /// 400: a payment creation without the `Idempotency-Key` header.
    IdempotencyKeyRequired,
    /// 422: the `Idempotency-Key` was used before with another body.
    IdempotencyKeyReused,
    /// 409: the first request with this `Idempotency-Key` is still being processed.
    IdempotencyKeyInFlight,
    /// 422: the bank cannot do what was asked (`field` names the capability); nothing was sent.
    UnsupportedByBank,
    /// 502: the bank failed or refused a call the request needed; nothing changed.
    BankUnavailable,
    /// 500: Passerelle failed; the cause is logged, never shown.
    Internal,
}

impl ProblemCode {
    /// The code as it appears in the document and in the problem type's URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NotFound => "not_found",
            Self::ValidationFailed => "validation_failed",
            Self::Conflict => "conflict",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::ScaRequired => "sca_required",
            Self::QuotaExhausted => "quota_exhausted",
            Self::IdempotencyKeyRequired => "idempotency_key_required",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Self::UnsupportedByBank => "unsupported_by_bank",
            Self::BankUnavailable => "bank_unavailable",
            Self::Internal => "internal",
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(StoreError::Query(e))
    }
}

/// The problem document (RFC 9457), served as `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `https://passerelle.dev/problems/<code>`.
    #[serde(rename = "type")]
    #[schema(
        format = "uri",
        example = "https://passerelle.dev/problems/validation_failed"
    )]
    pub kind: String,
    /// A short summary: the status's reason phrase.
    #[schema(example = "Unprocessable Entity")]
    pub title: String,
    /// The HTTP status, the same as the response's.
    #[schema(minimum = 400, maximum = 599, example = 422)]
    pub status: u16,
    /// What happened here, for people: match on `code`, not on these words.
    pub detail: String,
    /// Stable machine-readable code.
    pub code: ProblemCode,
    /// The invalid field, for validation errors: a body, path or query field name, or `body`,
    /// `path` or `query` when the whole part could not be read; for `unsupported_by_bank`, the
    /// capability the bank lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "redirect_url")]
    pub field: Option<String>,
    /// For `sca_required` only: the challenge the user must resolve before the call is retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sca: Option<ScaView>,
    /// For `quota_exhausted` only: when the bank's unattended calls reset (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retry_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) | Self::ScaRequired(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::QuotaExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::IdempotencyKeyRequired => StatusCode::BAD_REQUEST,
            Self::IdempotencyKeyReused | Self::UnsupportedByBank { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::IdempotencyKeyInFlight => StatusCode::CONFLICT,
            Self::Bank(_) => StatusCode::BAD_GATEWAY,
            Self::Store(_) | Self::Internal(_) | Self::Link(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Store(e) => tracing::error!(error = %e, "store error behind an API request"),
            Self::Internal(e) => {
                tracing::error!(error = %e, "internal error behind an API request")
            }
            Self::Link(e) => tracing::error!(error = %e, "connect link behind an API request"),
            _ => {}
        }
        let status = self.status_code();
        let problem = Problem {
            kind: format!("https://passerelle.dev/problems/{}", self.code().as_str()),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code(),
            field: match self {
                Self::Validation { field, .. } => Some(field.clone()),
                Self::UnsupportedByBank { capability, .. } => Some((*capability).to_owned()),
                _ => None,
            },
            sca: match self {
                Self::ScaRequired(sca) => Some(sca.as_ref().clone()),
                _ => None,
            },
            retry_at: match self {
                Self::QuotaExhausted { retry_at } => Some(*retry_at),
                _ => None,
            },
        };
        let mut response = HttpResponse::build(status);
        response.content_type("application/problem+json");
        match self {
            Self::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            Self::QuotaExhausted { retry_at } => {
                // An HTTP-date (RFC 9110 §10.2.3): the instant itself, whatever the clock.
                let date = retry_at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
                response.insert_header((header::RETRY_AFTER, date));
            }
            _ => {}
        }
        response.json(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ScaAction, ScaKindName, ScaStatus};

    #[actix_web::test]
    async fn a_refused_read_is_a_409_problem_carrying_the_challenge() {
        let now = chrono::Utc::now();
        let view = ScaView {
            id: "c1".into(),
            kind: ScaKindName::Redirect,
            status: ScaStatus::Created,
            action: ScaAction::Balances,
            connection_id: Some("k1".into()),
            created_at: now,
            expires_at: now,
            resolved_at: None,
            amr: Vec::new(),
            failure: None,
            url: Some("https://passerelle.example/connect/t".into()),
            attempts_left: None,
            poll_interval_seconds: None,
            deadline: None,
            data: None,
        };
        let response = ApiError::ScaRequired(Box::new(view)).error_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["code"], "sca_required");
        assert_eq!(
            problem["type"],
            "https://passerelle.dev/problems/sca_required"
        );
        assert_eq!(problem["sca"]["id"], "c1");
        assert_eq!(problem["sca"]["kind"], "redirect");
        assert_eq!(problem["sca"]["action"], "balances");
    }
}
