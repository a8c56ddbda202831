//! Talking to providers: one folder per protocol (`stet/`), each a [`Connector`] built by
//! [`factory`] from its registry profile and called through capability traits
//! ([`ReadAccounts`], [`GrantAccess`], [`ProviderWebhooks`]) whose calls may answer an SCA
//! request instead of a result ([`Answer`]). Each connector states its SCA freshness and
//! unattended-access rules ([`policy`]). No module above `bank/` names a protocol's types.
//!
//! The bank client knows nothing of the store: every raw response body is handed back
//! ([`RawExchange`]) for the caller to put in the response vault, and token rotation goes
//! through the caller's [`TokenSource`], which persists the new refresh token.

pub mod connector;
pub mod device_payments;
mod error;
pub mod factory;
pub mod funds;
pub mod payments;
pub mod policy;
pub mod probe;
pub mod retry;
pub mod sessions;
pub mod stet;
mod token;
pub mod treezor;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use secrecy::SecretString;

pub use connector::{
    AccessChoice, Answer, Connector, GrantAccess, ProviderEvent, ProviderWebhooks, ReadAccounts,
    Renormalize, Reread, ScaRequest,
};
pub use error::{BankError, BankErrorDetails, BankErrorKind};
pub use factory::{ConnectorError, Connectors};
pub use payments::{InitiatePayments, InitiatedPayment, PaymentError};
pub use policy::{
    Freshness, FreshnessVerdict, ScaFreshnessPolicy, UnattendedAccessPolicy, UnattendedMethod,
};
pub use retry::{FreeRetries, NoRetries, RetryGate, RetryPolicy};
pub use token::{FixedToken, RefreshingToken};

use crate::oauth::OAuthError;

/// Where the user's credential for a call comes from, and how it is renewed: for an OAuth
/// provider, the connection's access token and its refresh. A provider that authenticates the
/// user otherwise implements the same two operations over its own credential (a session token
/// renewed by its own call); a call made with the TPP's own credentials (STET payments: a
/// client-credentials token) takes none, the connector obtains it itself.
///
/// On a 401 `invalid_token` the client calls [`TokenSource::refresh`] once and replays the call
/// once. Implementations must make refresh single-flight per connection and persist a rotated
/// refresh token before returning (see [`crate::oauth::Refreshed`]); [`RefreshingToken`] does
/// the in-memory half and calls the caller's persistence hook.
pub trait TokenSource {
    /// The current access token.
    fn access_token(&self) -> SecretString;
    /// Obtains, persists and returns a new access token.
    fn refresh(&self) -> LocalBoxFuture<'_, Result<SecretString, OAuthError>>;
}

/// The PSU's own request, when the PSU is present: becomes the `PSU-*` headers.
///
/// When the PSU is absent (batch), pass no context: no `PSU-*` header is sent, in particular no
/// `PSU-IP-Address` (which is what makes it a batch call for the bank's daily quota).
#[derive(Debug, Clone, Default)]
pub struct PsuContext {
    /// `PSU-IP-Address` (required when present).
    pub ip_address: String,
    /// `PSU-IP-Port`.
    pub ip_port: Option<String>,
    /// `PSU-HTTP-Method`.
    pub http_method: Option<String>,
    /// `PSU-Date`.
    pub date: Option<String>,
    /// `PSU-User-Agent`.
    pub user_agent: Option<String>,
    /// `PSU-Referer`.
    pub referer: Option<String>,
    /// `PSU-Accept`.
    pub accept: Option<String>,
    /// `PSU-Accept-Charset`.
    pub accept_charset: Option<String>,
    /// `PSU-Accept-Encoding`.
    pub accept_encoding: Option<String>,
    /// `PSU-Accept-Language`.
    pub accept_language: Option<String>,
}

impl PsuContext {
    /// The headers, lowercase names, in the STET order; absent values are not sent (and a
    /// bank profile that signs them then refuses to sign, naming the header).
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let optional = [
            ("psu-ip-port", &self.ip_port),
            ("psu-http-method", &self.http_method),
            ("psu-date", &self.date),
            ("psu-user-agent", &self.user_agent),
            ("psu-referer", &self.referer),
            ("psu-accept", &self.accept),
            ("psu-accept-charset", &self.accept_charset),
            ("psu-accept-encoding", &self.accept_encoding),
            ("psu-accept-language", &self.accept_language),
        ];
        let mut out = vec![("psu-ip-address", self.ip_address.as_str())];
        out.extend(
            optional
                .into_iter()
                .filter_map(|(n, v)| v.as_deref().map(|v| (n, v))),
        );
        out
    }
}

/// One request/answer with the bank, for the response vault.
#[derive(Debug, Clone)]
pub struct RawExchange {
    /// Method and path template, e.g. `GET /accounts/{id}/balances`.
    pub endpoint: String,
    /// The `X-Request-ID` sent.
    pub request_id: String,
    /// HTTP status.
    pub status: u16,
    /// The body exactly as received.
    pub body: Bytes,
    /// When the answer arrived.
    pub received_at: DateTime<Utc>,
}

/// A successful answer: the value and every exchange it took (a replay after a token refresh
/// makes two), last one last.
#[derive(Debug, Clone)]
pub struct BankResponse<T> {
    /// The parsed and normalized value.
    pub value: T,
    /// The raw exchanges, for the vault.
    pub exchanges: Vec<RawExchange>,
}

/// A transactions query: `dateFrom` inclusive, `dateTo` exclusive (STET).
#[derive(Debug, Clone, Copy, Default)]
pub struct DateRange {
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
}
