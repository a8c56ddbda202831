//! The STET HTTP client: every AIS, PIS and CBPII call of STET 1.4.2, signed and sent over
//! the bank's mutual-TLS client, with one refresh-and-replay on an expired token, and the
//! retries of idempotent GETs that [`crate::bank::retry`] describes.

mod endpoints;

use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use bytes::Bytes;
use chrono_tz::Tz;
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::request::{self, StetRequest};
use super::wire::pis::HalPaymentRequestCreation;
use crate::bank::retry::{self, NoRetries, Retries, RetryGate, RetryPolicy};
use crate::bank::{
    BankError, BankErrorDetails, BankErrorKind, PsuContext, RawExchange, TokenSource,
};
use crate::clock::Clock;
use crate::httpsig::Signer;
use crate::registry::{Bank, BankId, Endpoints, Environment, SignatureProfile, StetProfile};
use crate::tls::client::{BankHttpClient, RawResponse};

/// The answer to `POST /payment-requests`: the body and the `location` of the new resource.
#[derive(Debug, Clone)]
pub struct PaymentCreated {
    /// `HalPaymentRequestCreation` (`consentApproval` link for the PSU).
    pub creation: HalPaymentRequestCreation,
    /// The `location` header, when sent.
    pub location: Option<String>,
}

/// A STET client for one bank and environment.
#[derive(Debug, Clone)]
pub struct StetClient {
    bank: BankId,
    time_zone: Tz,
    api: Endpoints,
    profile: SignatureProfile,
    http: BankHttpClient,
    signer: Arc<Signer>,
    retry: RetryPolicy,
    clock: Clock,
}

/// One call: method, endpoint template (for errors and the vault), path and body.
struct Call<'a> {
    method: Method,
    endpoint: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Bytes,
    token: &'a dyn TokenSource,
    psu: Option<&'a PsuContext>,
    /// Asked before each retry; only GETs are ever retried.
    gate: &'a dyn RetryGate,
}

impl<'a> Call<'a> {
    /// An idempotent `GET` of `path`, whose retries `gate` allows.
    fn read(
        endpoint: &'static str,
        path: String,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
        gate: &'a dyn RetryGate,
    ) -> Self {
        Self {
            method: Method::GET,
            endpoint,
            path,
            query: Vec::new(),
            body: Bytes::new(),
            token,
            psu,
            gate,
        }
    }

    /// A call that changes something at the bank: never retried, as the bank does not treat it
    /// as idempotent (a second payment request is a second payment).
    fn write(
        method: Method,
        endpoint: &'static str,
        path: String,
        body: Bytes,
        token: &'a dyn TokenSource,
        psu: Option<&'a PsuContext>,
    ) -> Self {
        Self {
            method,
            endpoint,
            path,
            query: Vec::new(),
            body,
            token,
            psu,
            gate: &NoRetries,
        }
    }
}

/// A failed attempt, and whether sending the same request again may succeed.
struct Failed {
    error: BankError,
    transient: bool,
}

impl StetClient {
    /// A client for `bank`'s `environment`, sending through `http` and signing with `signer`
    /// (built from the QSEAL key and the keyId format of `stet`, the bank's STET section).
    pub fn new(
        bank: &Bank,
        stet: &StetProfile,
        environment: Environment,
        http: BankHttpClient,
        signer: Arc<Signer>,
    ) -> Self {
        Self {
            bank: bank.id.clone(),
            time_zone: bank.time_zone,
            api: bank.endpoints(environment).clone(),
            profile: stet.signature.clone(),
            http,
            signer,
            retry: RetryPolicy::default(),
            clock: Clock::system(),
        }
    }

    /// The same client reading `clock`: the signed `Date` header and `Retry-After` dates follow
    /// it, so a moved test clock and a moved sandbox agree.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The bank's id.
    pub fn bank_id(&self) -> &BankId {
        &self.bank
    }

    fn error(&self, endpoint: &str, request_id: &str, kind: BankErrorKind) -> BankError {
        BankError::from(BankErrorDetails {
            bank: self.bank.clone(),
            endpoint: endpoint.to_owned(),
            request_id: request_id.to_owned(),
            status: None,
            raw_body: None,
            retry_after: None,
            kind,
        })
    }

    /// Sends once with `token` under a fresh `X-Request-ID`; the raw answer, or a
    /// transport/build error.
    async fn send_once(
        &self,
        call: &Call<'_>,
        token: &secrecy::SecretString,
    ) -> Result<(RawResponse, RawExchange), Failed> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let fail = |kind| Failed {
            error: self.error(call.endpoint, &request_id, kind),
            transient: false,
        };
        let mut url: Url = self
            .api
            .api_url(&call.path)
            .map_err(|e| fail(BankErrorKind::Request(format!("bad URL: {e}"))))?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let outbound = request::build(
            StetRequest {
                method: call.method.clone(),
                url,
                body: call.body.clone(),
                token,
                psu: call.psu,
                request_id: &request_id,
                date: self.clock.now(),
            },
            &self.profile,
            &self.signer,
        )
        .map_err(fail)?;
        let started = std::time::Instant::now();
        let sent = self.http.send(outbound).await;
        crate::metrics::global().bank_call(
            self.bank.as_ref(),
            call.endpoint,
            sent.as_ref().ok().map(|r| r.status.as_u16()),
            started.elapsed(),
        );
        let raw = sent.map_err(|e| {
            let (kind, transient) = retry::transport_failure(e);
            Failed {
                transient,
                ..fail(kind)
            }
        })?;
        let exchange = RawExchange {
            endpoint: call.endpoint.to_owned(),
            request_id: request_id.clone(),
            status: raw.status.as_u16(),
            body: raw.body.clone(),
            received_at: self.clock.now(),
        };
        Ok((raw, exchange))
    }

    /// Sends, refreshes once and replays once on 401 `invalid_token`, retries a GET after a
    /// transient failure (see [`retry`]), and reads the answer.
    async fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(Option<T>, RawResponse, Vec<RawExchange>), BankError> {
        let mut exchanges = Vec::with_capacity(1);
        let mut token = call.token.access_token();
        let mut refreshed = false;
        let mut retries = Retries::new(self.retry);
        loop {
            let (raw, exchange) = match self.send_once(&call, &token).await {
                Ok(sent) => sent,
                Err(failed) => {
                    if failed.transient && self.should_retry(&call, &mut retries, None).await {
                        continue;
                    }
                    return Err(failed.error);
                }
            };
            let request_id = exchange.request_id.clone();
            exchanges.push(exchange);
            let kind = if raw.status.is_success() {
                match request::success(&raw) {
                    Ok(value) => return Ok((value, raw, exchanges)),
                    // Not retried: the bank answered, and would most likely answer the same.
                    Err(kind) => return Err(self.answered(&call, &request_id, &raw, kind)),
                }
            } else {
                request::failure(&raw)
            };
            if let BankErrorKind::Unauthorized {
                invalid_token: true,
            } = kind
            {
                if !refreshed {
                    refreshed = true;
                    token = call.token.refresh().await.map_err(|e| {
                        let kind = BankErrorKind::Refresh(e.to_string());
                        self.answered(&call, &request_id, &raw, kind)
                    })?;
                    continue;
                }
            }
            if retry::retryable_status(raw.status.as_u16()) {
                let asked = retry::retry_after(&raw, self.clock.now());
                if self.should_retry(&call, &mut retries, asked).await {
                    continue;
                }
            }
            return Err(self.answered(&call, &request_id, &raw, kind));
        }
    }

    /// Whether to send `call` once more, having waited if so (see [`Retries::wait_for_next`]).
    async fn should_retry(
        &self,
        call: &Call<'_>,
        retries: &mut Retries,
        asked: Option<Duration>,
    ) -> bool {
        retries
            .wait_for_next(
                call.method == Method::GET,
                asked,
                call.gate,
                &self.bank,
                call.endpoint,
            )
            .await
    }

    /// The error for an answer that came (its status and body kept for diagnosis).
    fn answered(
        &self,
        call: &Call<'_>,
        request_id: &str,
        raw: &RawResponse,
        kind: BankErrorKind,
    ) -> BankError {
        let mut err = self.error(call.endpoint, request_id, kind);
        err.status = Some(raw.status.as_u16());
        err.raw_body = Some(raw.body.clone());
        err.retry_after = retry::retry_after(raw, self.clock.now());
        err
    }

    fn json<B: Serialize>(&self, endpoint: &str, body: &B) -> Result<Bytes, BankError> {
        serde_json::to_vec(body).map(Bytes::from).map_err(|e| {
            self.error(
                endpoint,
                "-",
                BankErrorKind::Request(format!("cannot encode: {e}")),
            )
        })
    }
}
