//! The Treezor HTTP client: bearer calls over the program's mutual-TLS client, one refresh and
//! replay on an expired token, the retries of idempotent GETs that [`crate::bank::retry`]
//! describes, and Treezor's two error shapes read into precise [`BankErrorKind`]s.

use std::time::Duration;

use awc::http::Method;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::wire::ErrorEnvelope;
use crate::bank::retry::{self, Retries, RetryGate, RetryPolicy};
use crate::bank::{BankError, BankErrorDetails, BankErrorKind, RawExchange, TokenSource};
use crate::clock::Clock;
use crate::registry::{BankId, Endpoints};
use crate::tls::client::{BankHttpClient, OutboundRequest, RawResponse};

/// Where a per-operation or per-session SCA proof travels (seed 000: "the data to sign in the
/// path and payload"; 001 shows both the `X-Trz-SCA` header and an `sca` body field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofTransport {
    /// The `X-Trz-SCA` header.
    Header,
    /// The body's `sca` field.
    BodyField,
}

/// One call: method, endpoint template (for errors and the vault), path, query and body.
pub struct Call<'a> {
    /// HTTP method.
    pub method: Method,
    /// Method and path template, e.g. `GET /v1/balances`.
    pub endpoint: &'static str,
    /// The path under the API base.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(&'static str, String)>,
    /// JSON body (empty for a GET).
    pub body: Option<serde_json::Value>,
    /// The user's (or the program's) token.
    pub token: &'a dyn TokenSource,
    /// An SCA proof to present, and how.
    pub proof: Option<(&'a SecretString, ProofTransport)>,
    /// Asked before each retry; only GETs are ever retried.
    pub gate: &'a dyn RetryGate,
}

/// A Treezor client for one program and environment.
#[derive(Debug, Clone)]
pub struct TreezorClient {
    bank: BankId,
    api: Endpoints,
    http: BankHttpClient,
    retry: RetryPolicy,
    clock: Clock,
}

/// A failed attempt, and whether sending the same request again may succeed.
struct Failed {
    error: BankError,
    transient: bool,
}

impl TreezorClient {
    /// A client for `bank` at `api`, sending through `http`.
    pub fn new(bank: BankId, api: Endpoints, http: BankHttpClient, clock: Clock) -> Self {
        Self {
            bank,
            api,
            http,
            retry: RetryPolicy::default(),
            clock,
        }
    }

    /// The full URL of `path` with `query`, as sent (an SCA proof signs it).
    pub fn url(&self, path: &str, query: &[(&'static str, String)]) -> Result<Url, BankError> {
        let mut url = self.api.api_url(path).map_err(|e| {
            self.error(
                "-",
                "-",
                BankErrorKind::Request(format!("bad URL for {path}: {e}")),
            )
        })?;
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(url)
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

    async fn send_once(
        &self,
        call: &Call<'_>,
        token: &SecretString,
    ) -> Result<(RawResponse, RawExchange), Failed> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let fail = |kind| Failed {
            error: self.error(call.endpoint, &request_id, kind),
            transient: false,
        };
        let url = self.url(&call.path, &call.query).map_err(|error| Failed {
            error,
            transient: false,
        })?;
        let mut headers = vec![
            (
                "authorization".to_owned(),
                format!("Bearer {}", token.expose_secret()),
            ),
            ("accept".to_owned(), "application/json".to_owned()),
            ("x-request-id".to_owned(), request_id.clone()),
        ];
        let mut body = call.body.clone();
        match call.proof {
            Some((proof, ProofTransport::Header)) => {
                headers.push(("x-trz-sca".to_owned(), proof.expose_secret().to_owned()));
            }
            Some((proof, ProofTransport::BodyField)) => {
                if let Some(serde_json::Value::Object(fields)) = body.as_mut() {
                    fields.insert(
                        "sca".to_owned(),
                        serde_json::Value::String(proof.expose_secret().to_owned()),
                    );
                }
            }
            None => {}
        }
        let bytes = match &body {
            Some(value) => {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                serde_json::to_vec(value)
                    .map(Bytes::from)
                    .map_err(|e| fail(BankErrorKind::Request(format!("cannot encode: {e}"))))?
            }
            None => Bytes::new(),
        };
        let started = std::time::Instant::now();
        let sent = self
            .http
            .send(OutboundRequest {
                method: call.method.clone(),
                url: url.to_string(),
                headers,
                body: bytes,
            })
            .await;
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
            request_id,
            status: raw.status.as_u16(),
            body: raw.body.clone(),
            received_at: self.clock.now(),
        };
        Ok((raw, exchange))
    }

    /// Sends, refreshes once and replays once on a 401, retries a GET after a transient
    /// failure, and parses a 2xx body (`None` for a 204 or an empty body).
    pub async fn call<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
    ) -> Result<(Option<T>, Vec<RawExchange>), BankError> {
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
            if raw.status.is_success() {
                return match success(&raw) {
                    Ok(value) => Ok((value, exchanges)),
                    Err(kind) => Err(self.answered(call.endpoint, &request_id, &raw, kind)),
                };
            }
            let kind = failure(&raw);
            // Treezor answers 401 to an expired JWT (an hour): refresh once, replay once.
            if matches!(kind, BankErrorKind::Unauthorized { .. }) && !refreshed {
                refreshed = true;
                token = call.token.refresh().await.map_err(|e| {
                    let kind = BankErrorKind::Refresh(e.to_string());
                    self.answered(call.endpoint, &request_id, &raw, kind)
                })?;
                continue;
            }
            if retry::retryable_status(raw.status.as_u16()) {
                let asked = retry::retry_after(&raw, self.clock.now());
                if self.should_retry(&call, &mut retries, asked).await {
                    continue;
                }
            }
            return Err(self.answered(call.endpoint, &request_id, &raw, kind));
        }
    }

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
    pub fn answered(
        &self,
        endpoint: &str,
        request_id: &str,
        raw: &RawResponse,
        kind: BankErrorKind,
    ) -> BankError {
        let mut err = self.error(endpoint, request_id, kind);
        err.status = Some(raw.status.as_u16());
        err.raw_body = Some(raw.body.clone());
        err.retry_after = retry::retry_after(raw, self.clock.now());
        err
    }

    /// Now, on the one clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// An answer that parsed but cannot be normalized.
    pub fn bad_response(&self, endpoint: &str, field: String, message: String) -> BankError {
        self.error(endpoint, "-", BankErrorKind::BadResponse { field, message })
    }
}

/// Parses a 2xx body; a 204 or an empty body is `None` (Treezor answers 204 to an empty list).
pub fn success<T: DeserializeOwned>(raw: &RawResponse) -> Result<Option<T>, BankErrorKind> {
    if raw.status.as_u16() == 204 || raw.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut de = serde_json::Deserializer::from_slice(&raw.body);
    serde_path_to_error::deserialize(&mut de)
        .map(Some)
        .map_err(|e| BankErrorKind::BadResponse {
            field: e.path().to_string(),
            message: e.inner().to_string(),
        })
}

/// Reads a non-2xx answer in either of Treezor's shapes (seed 001:6288-6359): the `errors[]`
/// envelope, whose `type`/`code` pair says what happened, or the legacy `{"error": …}`.
pub fn failure(raw: &RawResponse) -> BankErrorKind {
    let status = raw.status.as_u16();
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&raw.body).ok();
    let first = envelope.as_ref().and_then(|e| e.errors.first());
    let code = first.and_then(|e| e.code.clone()).unwrap_or_default();
    let kind = first.and_then(|e| e.kind.clone()).unwrap_or_default();
    let legacy = envelope.as_ref().and_then(|e| match &e.error {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
        None => None,
    });
    let message = first
        .and_then(|e| e.message.clone())
        .or(legacy)
        .unwrap_or_else(|| String::from_utf8_lossy(&raw.body[..raw.body.len().min(200)]).into());
    let described = if code.is_empty() {
        message.clone()
    } else {
        format!("{code}: {message}")
    };
    match (status, code.as_str()) {
        // The SCA rules of seed 000, refused as such: the caller asks the user.
        (
            403,
            "sca_required" | "sca_session_required" | "sca_proof_required" | "sca_proof_invalid",
        ) => BankErrorKind::ScaRequired {
            rule: code.clone(),
            message,
        },
        (401, _) => BankErrorKind::Unauthorized {
            invalid_token: kind == "invalid_grant" || code == "authentication_error",
        },
        (403, _) => BankErrorKind::Forbidden { message: described },
        (404, _) => BankErrorKind::NotFound { message: described },
        (429, _) => BankErrorKind::RateLimited {
            retry_after: raw
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        (501, _) => BankErrorKind::NotSupported { message: described },
        (408 | 500..=599, _) => BankErrorKind::Unavailable {
            status: Some(status),
            reason: described,
        },
        _ => BankErrorKind::Rejected {
            status,
            message: described,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use awc::http::StatusCode;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: vec![("retry-after".into(), "7".into())],
            body: Bytes::from(body.to_owned()),
        }
    }

    fn envelope(kind: &str, code: &str, message: &str) -> String {
        serde_json::json!({"errors": [{
            "type": kind, "code": code, "message": message,
            "requestId": "5a1e", "docUrl": "https://docs.treezor.com"
        }]})
        .to_string()
    }

    /// Each `type`/`code` pair of seed 001:6290-6359, and the legacy shape, to its own kind.
    #[test]
    fn every_documented_error_shape_maps_to_a_precise_kind() {
        let kind = |status, body: &str| failure(&raw(status, body));
        assert!(matches!(
            kind(400, &envelope("invalid_request", "input_validation_error", "amount must be ≥ 0.05")),
            BankErrorKind::Rejected { status: 400, ref message }
                if message == "input_validation_error: amount must be ≥ 0.05"
        ));
        assert!(matches!(
            kind(
                401,
                &envelope("invalid_grant", "authentication_error", "expired JWT")
            ),
            BankErrorKind::Unauthorized {
                invalid_token: true
            }
        ));
        assert!(matches!(
            kind(404, &envelope("invalid_request", "resource_not_found_error", "no wallet 77")),
            BankErrorKind::NotFound { ref message } if message.contains("resource_not_found_error")
        ));
        assert!(matches!(
            kind(500, &envelope("unexpected_internal_server_error", "unexpected_error", "oops")),
            BankErrorKind::Unavailable { status: Some(500), ref reason } if reason.contains("unexpected_error")
        ));
        assert!(matches!(
            kind(403, &envelope("unauthorized", "authorization_error", "read_only")),
            BankErrorKind::Forbidden { ref message } if message.contains("authorization_error")
        ));
        for rule in [
            "sca_required",
            "sca_session_required",
            "sca_proof_required",
            "sca_proof_invalid",
        ] {
            assert!(
                matches!(
                    kind(403, &envelope("unauthorized", rule, "SCA")),
                    BankErrorKind::ScaRequired { rule: ref r, .. } if r == rule
                ),
                "{rule}"
            );
        }
        // The legacy `{"error": …}` keeps its message.
        assert!(matches!(
            kind(400, r#"{"error":"Invalid createdDateFrom"}"#),
            BankErrorKind::Rejected { status: 400, ref message } if message == "Invalid createdDateFrom"
        ));
        assert!(matches!(
            kind(429, "{}"),
            BankErrorKind::RateLimited { retry_after: Some(d) } if d.as_secs() == 7
        ));
        // Not JSON at all: the status decides, the text is kept.
        assert!(matches!(
            kind(502, "<html>Bad gateway</html>"),
            BankErrorKind::Unavailable { status: Some(502), ref reason } if reason.contains("Bad gateway")
        ));
    }

    #[test]
    fn an_empty_answer_is_nothing_and_garbage_names_its_field() {
        assert!(success::<super::super::wire::Wallets>(&raw(204, ""))
            .unwrap()
            .is_none());
        let err = success::<super::super::wire::Balances>(&raw(
            200,
            r#"{"balances":[{"walletId":1,"currentBalance":"lots","currency":"EUR"}]}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(err, BankErrorKind::BadResponse { ref field, .. } if field == "balances[0].currentBalance"),
            "{err}"
        );
        assert!(matches!(
            success::<super::super::wire::Wallets>(&raw(200, "<html>")),
            Err(BankErrorKind::BadResponse { .. })
        ));
    }
}
