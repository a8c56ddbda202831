//! `BankError`: every way a call to a bank can fail, with what is needed to diagnose it.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::registry::BankId;

/// What went wrong with a bank call.
#[derive(Debug, thiserror::Error)]
pub enum BankErrorKind {
    /// 401: the access token is expired or revoked (`invalid_token`) or the call is not
    /// authenticated.
    #[error("unauthorized{}", if *invalid_token { " (invalid_token)" } else { "" })]
    Unauthorized {
        /// Whether the bank said `invalid_token` (a refresh may help).
        invalid_token: bool,
    },
    /// 403: outside the consent or the token's scope.
    #[error("forbidden: {message}")]
    Forbidden {
        /// The bank's message.
        message: String,
    },
    /// 403 from a provider whose SCA rules refused the call (Treezor: `sca_required`,
    /// `sca_session_required`, `sca_proof_required`, `sca_proof_invalid`): the user must
    /// authenticate; nothing happened.
    #[error("strong customer authentication required ({rule}): {message}")]
    ScaRequired {
        /// The provider's code for the rule.
        rule: String,
        /// The provider's message.
        message: String,
    },
    /// 404: unknown account or resource.
    #[error("not found: {message}")]
    NotFound {
        /// The bank's message.
        message: String,
    },
    /// 429: too many calls; retry after the given delay when the bank said one.
    #[error("rate limited{}", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// `Retry-After`, when sent in seconds.
        retry_after: Option<Duration>,
    },
    /// 5xx, 408, a connection failure or a timeout: the bank is not answering properly now.
    #[error("bank unavailable: {reason}")]
    Unavailable {
        /// HTTP status when there was one.
        status: Option<u16>,
        /// What happened.
        reason: String,
    },
    /// 501: the bank does not offer this call at all (BPCE: trusted beneficiaries). Permanent,
    /// unlike [`Self::Unavailable`]: retrying or scheduling it again is pointless.
    #[error("not offered by the bank: {message}")]
    NotSupported {
        /// The bank's message.
        message: String,
    },
    /// Another 4xx: the bank refused the request as sent (400 bad signature, 405, …).
    #[error("rejected with HTTP {status}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The bank's message.
        message: String,
    },
    /// A 2xx answer that is not JSON, breaks the schema or cannot be normalized.
    #[error("bad response at `{field}`: {message}")]
    BadResponse {
        /// JSON path of the offending field (`.` for the whole document).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The answer is larger than the client's limit.
    #[error("response larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The request could not be built or signed (missing PSU header, bad key, …); nothing was
    /// sent.
    #[error("request not sent: {0}")]
    Request(String),
    /// Refreshing the access token after a 401 failed.
    #[error("token refresh failed: {0}")]
    Refresh(String),
}

/// A failed bank call: the kind, and the bank, endpoint, `X-Request-ID` and raw body (when
/// there was one) for diagnosis and the response vault. Fields are read through `Deref`
/// ([`BankErrorDetails`]); the box keeps `Result<_, BankError>` small.
#[derive(Debug)]
pub struct BankError(Box<BankErrorDetails>);

/// The content of a [`BankError`].
#[derive(Debug)]
pub struct BankErrorDetails {
    /// The bank profile id.
    pub bank: BankId,
    /// Method and path template, e.g. `GET /accounts/{id}/transactions`.
    pub endpoint: String,
    /// The `X-Request-ID` sent.
    pub request_id: String,
    /// HTTP status of the answer, if one came.
    pub status: Option<u16>,
    /// The raw answer body, if one came.
    pub raw_body: Option<Bytes>,
    /// How long the bank asked to be left alone (`Retry-After` on a 503 or 429), if it did.
    pub retry_after: Option<std::time::Duration>,
    /// What went wrong.
    pub kind: BankErrorKind,
}

impl From<BankErrorDetails> for BankError {
    fn from(details: BankErrorDetails) -> Self {
        Self(Box::new(details))
    }
}

impl std::ops::Deref for BankError {
    type Target = BankErrorDetails;
    fn deref(&self) -> &BankErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for BankError {
    fn deref_mut(&mut self) -> &mut BankErrorDetails {
        &mut self.0
    }
}

impl fmt::Display for BankError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (X-Request-ID {}): {}",
            self.bank, self.endpoint, self.request_id, self.kind
        )
    }
}

impl std::error::Error for BankError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl BankError {
    /// Whether the same call may succeed later without any change (unavailable, rate limited).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            BankErrorKind::Unavailable { .. } | BankErrorKind::RateLimited { .. }
        )
    }
}
