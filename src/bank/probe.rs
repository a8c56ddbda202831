//! `passerelle probe BANK_ID`: checks a bank end to end without a user (certificates, TLS
//! handshake with the QWAC, a client-credentials token, a signed call) and says why a step
//! failed.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::stet::StetClient;
use super::{BankErrorKind, FixedToken};
use crate::config::Config;
use crate::httpsig::{key_id, Signer};
use crate::oauth::OAuthClient;
use crate::registry::{Bank, Environment, Scope};
use crate::tls::client::{BankHttpClient, ClientOptions, OutboundRequest, TlsMaterial};
use crate::tls::identity::Identity;

/// Clock difference with the bank above which signatures (`Date`) are likely refused.
const MAX_SKEW_SECS: i64 = 60;

/// One probe step and its outcome (`Ok` = what passed, `Err` = why it failed).
#[derive(Debug)]
pub struct ProbeStep {
    /// Step name.
    pub name: &'static str,
    /// Outcome.
    pub outcome: Result<String, String>,
}

/// Explains a connection failure in operator terms.
fn explain_connect(reason: &str) -> String {
    if reason.contains("certificate verify failed") {
        format!("the bank's server certificate is not trusted (wrong CA or missing extra_ca_pem?): {reason}")
    } else if reason.contains("alert") {
        format!("the bank refused our QWAC (expired, wrong CA, or not registered): {reason}")
    } else {
        reason.to_owned()
    }
}

/// A failing "clock" step when the bank's `Date` header (`date`, RFC 1123) is more than
/// [`MAX_SKEW_SECS`] away from `now`; `None` when it is close enough or absent/unreadable.
fn clock_step(date: Option<&str>, now: DateTime<Utc>) -> Option<ProbeStep> {
    let bank_now = DateTime::parse_from_rfc2822(date?)
        .ok()?
        .with_timezone(&Utc);
    let skew = (now - bank_now).num_seconds();
    (skew.abs() > MAX_SKEW_SECS).then(|| ProbeStep {
        name: "clock",
        outcome: Err(format!(
            "clock skew of {skew}s with the bank (ours ahead when positive): signatures \
             (Date header) may be refused; check NTP"
        )),
    })
}

/// Runs the steps in order, stopping at the first one the next ones depend on.
pub async fn probe(bank: &Bank, config: &Config, environment: Environment) -> Vec<ProbeStep> {
    let mut steps = Vec::new();
    let step = |name, outcome| ProbeStep { name, outcome };
    // The probe speaks STET: a profile of another protocol stops at the first step.
    let (Some(stet), Some(oauth_urls)) = (bank.stet(), bank.endpoints(environment).oauth.as_ref())
    else {
        steps.push(step(
            "protocol",
            Err(format!(
                "the probe checks STET banks; {} speaks {}",
                bank.id,
                bank.protocol()
            )),
        ));
        return steps;
    };

    let material = match TlsMaterial::for_bank(bank, config) {
        Ok(m) => m,
        Err(e) => {
            steps.push(step("QWAC certificate", Err(e.to_string())));
            return steps;
        }
    };
    steps.push(step(
        "QWAC certificate",
        Ok("loaded and currently valid".into()),
    ));
    let signer = Identity::from_pem_files(&config.certs.qseal_cert, &config.certs.qseal_key)
        .map_err(|e| e.to_string())
        .and_then(|q| {
            let id = key_id(&(&stet.signature.key_id).into(), &config.client_id, &q.cert)
                .map_err(|e| e.to_string())?;
            Signer::new(&q.key, id).map_err(|e| e.to_string())
        });
    let signer = match signer {
        Ok(s) => Arc::new(s),
        Err(e) => {
            steps.push(step("QSEAL certificate", Err(e)));
            return steps;
        }
    };
    steps.push(step(
        "QSEAL certificate",
        Ok(format!("keyId {}", signer.key_id())),
    ));

    let http = match BankHttpClient::new(&material, ClientOptions::default()) {
        Ok(h) => h,
        Err(e) => {
            steps.push(step("TLS handshake", Err(e.to_string())));
            return steps;
        }
    };
    let endpoints = bank.endpoints(environment);
    // Unsigned, but with an `X-Request-ID` like every call: a bank logs a request without one
    // as a violation.
    let hello = http
        .send(OutboundRequest {
            method: awc::http::Method::GET,
            url: endpoints.api_base.to_string(),
            headers: vec![("X-Request-ID".to_owned(), uuid::Uuid::new_v4().to_string())],
            body: bytes::Bytes::new(),
        })
        .await;
    match hello {
        Ok(raw) => {
            steps.push(step(
                "TLS handshake",
                Ok(format!(
                    "mutual TLS with {} (HTTP {})",
                    endpoints.api_base,
                    raw.status.as_u16()
                )),
            ));
            if let Some(clock) = clock_step(raw.header("date"), Utc::now()) {
                steps.push(clock);
            }
        }
        Err(e) => {
            steps.push(step("TLS handshake", Err(explain_connect(&e.to_string()))));
            return steps;
        }
    }

    let oauth = OAuthClient::new(
        oauth_urls,
        stet.pkce,
        config.client_id.clone(),
        http.clone(),
    );
    let scope = if stet.has_scope(Scope::Pisp) {
        "pisp"
    } else {
        "aisp"
    };
    let token = match oauth.client_credentials(&[scope]).await {
        Ok(t) => t,
        Err(e) => {
            steps.push(step("client-credentials token", Err(e.to_string())));
            return steps;
        }
    };
    steps.push(step(
        "client-credentials token",
        Ok(format!("scope {scope}")),
    ));

    let client = StetClient::new(bank, stet, environment, http, signer);
    let outcome = match client
        .get_accounts(&FixedToken(token.access_token), None)
        .await
    {
        Ok(r) => Ok(format!(
            "GET /accounts answered {}",
            r.exchanges.last().map_or(0, |e| e.status)
        )),
        // Refused for scope or consent means the signature itself was accepted.
        Err(e)
            if matches!(
                e.kind,
                BankErrorKind::Forbidden { .. } | BankErrorKind::NotFound { .. }
            ) =>
        {
            Ok(format!("signature accepted (GET /accounts: {})", e.kind))
        }
        Err(e) => match &e.kind {
            BankErrorKind::Rejected {
                status: 400,
                message,
            } => Err(format!(
                "signature rejected: {message} (X-Request-ID {})",
                e.request_id
            )),
            _ => Err(e.to_string()),
        },
    };
    steps.push(step("signed call", outcome));
    steps
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn clock_skew_beyond_a_minute_is_a_failing_step() {
        let now = DateTime::parse_from_rfc3339("2024-05-02T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let step = clock_step(Some("Thu, 02 May 2024 09:55:00 GMT"), now).unwrap();
        assert_eq!(step.name, "clock");
        let why = step.outcome.unwrap_err();
        assert!(why.starts_with("clock skew of 300s with the bank"), "{why}");
        assert!(why.contains("check NTP"), "{why}");
        let behind = clock_step(Some("Thu, 02 May 2024 10:02:00 GMT"), now).unwrap();
        assert!(behind
            .outcome
            .unwrap_err()
            .starts_with("clock skew of -120s"));
        // Within a minute, absent or unreadable: nothing to report.
        assert!(clock_step(Some("Thu, 02 May 2024 10:00:59 GMT"), now).is_none());
        assert!(clock_step(None, now).is_none());
        assert!(clock_step(Some("yesterday"), now).is_none());
    }
}
