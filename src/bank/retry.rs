//! When a read is sent again: the rule, without I/O.
//!
//! A bank that answers 500, 502, 503 or 504, or a connection that fails before any answer
//! (refused, reset, timed out), usually recovers within seconds: an idempotent GET is then
//! retried at most twice, waiting what `Retry-After` says (or a short backoff), within a small
//! budget of waiting per call. Nothing else is retried: a 429 (at a STET bank it means the
//! PSU × account × method is spent for the day), another 4xx, a body that does not parse (the
//! bank answered, and would answer the same), or a method the bank does not treat as
//! idempotent (`PUT /consents`, payment requests and their confirmations).
//!
//! A retry is a call like any other: before each one the caller's [`RetryGate`] is asked,
//! which for an unattended call spends one unit of the quota ledger (and may refuse).

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use futures_util::future::{self, LocalBoxFuture};
use futures_util::FutureExt;

use super::PsuContext;
use crate::tls::client::RawResponse;

/// Asked before each retry of a read. The bank client knows nothing of the store: a caller
/// that keeps a quota ledger implements this with it.
pub trait RetryGate {
    /// Whether one more attempt may be sent. An implementation for unattended calls spends one
    /// unit of its quota ledger here, before the attempt goes out. `false`: the retry is not
    /// sent and the last error is returned.
    fn may_retry(&self) -> LocalBoxFuture<'_, bool>;
}

/// Retries cost nothing: the PSU is present, and the bank does not count such calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct FreeRetries;

impl RetryGate for FreeRetries {
    fn may_retry(&self) -> LocalBoxFuture<'_, bool> {
        future::ready(true).boxed_local()
    }
}

/// No retry: an unattended call whose caller has no ledger to spend a retry from.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRetries;

impl RetryGate for NoRetries {
    fn may_retry(&self) -> LocalBoxFuture<'_, bool> {
        future::ready(false).boxed_local()
    }
}

/// The gate of a read whose caller gives none: with the PSU present retries are free; without,
/// the call counts against the bank's daily batch limit, which only the caller's ledger may
/// spend, so there is no retry.
pub fn default_gate(psu: Option<&PsuContext>) -> &'static dyn RetryGate {
    if psu.is_some() {
        &FreeRetries
    } else {
        &NoRetries
    }
}

/// How reads are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The most one call waits in all between its attempts; a wait that would go past it is
    /// not done, and the error is returned at once.
    pub budget: Duration,
    /// The first wait when the bank says nothing (no or an unreadable `Retry-After`), doubled
    /// for each later retry.
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// Twice, within 3 s of waiting, from 250 ms: the first sync runs while the PSU's browser
    /// waits for the consent page to answer, so the budget must stay small.
    fn default() -> Self {
        Self {
            max_retries: 2,
            budget: Duration::from_secs(3),
            backoff: Duration::from_millis(250),
        }
    }
}

/// One call's retries so far.
#[derive(Debug, Clone)]
pub struct Retries {
    policy: RetryPolicy,
    done: u32,
    waited: Duration,
}

impl Retries {
    /// None yet.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            done: 0,
            waited: Duration::ZERO,
        }
    }

    /// How long to wait before the next attempt, when the policy allows one: `retry_after` is
    /// what the bank asked for (`None`: the backoff). `None` when the retries are used up or
    /// the wait would go past the budget.
    pub fn next_wait(&self, retry_after: Option<Duration>) -> Option<Duration> {
        if self.done >= self.policy.max_retries {
            return None;
        }
        let wait = retry_after.unwrap_or_else(|| {
            self.policy
                .backoff
                .saturating_mul(2u32.saturating_pow(self.done))
        });
        (self.waited.saturating_add(wait) <= self.policy.budget).then_some(wait)
    }

    /// Counts a retry about to be sent after waiting `wait`.
    pub fn record(&mut self, wait: Duration) {
        self.done += 1;
        self.waited = self.waited.saturating_add(wait);
    }

    /// Retries counted so far.
    pub fn done(&self) -> u32 {
        self.done
    }
}

impl Retries {
    /// Whether to send a call once more, having waited if so: only a `GET`, within the policy,
    /// and when the call's `gate` allows it. The gate is asked last, as an unattended caller's
    /// gate spends quota; and before the wait, so a refused retry costs no waiting. `asked`:
    /// the bank's `Retry-After`, if any.
    pub async fn wait_for_next(
        &mut self,
        is_get: bool,
        asked: Option<Duration>,
        gate: &dyn RetryGate,
        bank: &dyn std::fmt::Display,
        endpoint: &str,
    ) -> bool {
        if !is_get {
            return false;
        }
        let Some(wait) = self.next_wait(asked) else {
            return false;
        };
        if !gate.may_retry().await {
            return false;
        }
        self.record(wait);
        tracing::info!(
            bank = %bank,
            endpoint,
            retry = self.done,
            wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "transient bank failure: retrying"
        );
        actix_rt::time::sleep(wait).await;
        true
    }
}

/// What a call that got no answer failed with, and whether sending it again may succeed.
pub fn transport_failure(e: crate::tls::client::TransportError) -> (super::BankErrorKind, bool) {
    use crate::tls::client::TransportError;
    let transient = e.is_transient();
    let kind = match e {
        TransportError::BodyTooLarge { limit } => super::BankErrorKind::TooLarge { limit },
        other => super::BankErrorKind::Unavailable {
            status: None,
            reason: other.to_string(),
        },
    };
    (kind, transient)
}

/// Whether an answer with `status` is a passing outage worth a retry: 500, 502, 503, 504.
/// (501 is permanent; 429 means the day's quota is spent.)
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// The answer's `Retry-After` as a wait from `now`: delta-seconds, or an HTTP-date in any of
/// the three forms RFC 9110 makes recipients accept (a date already past is no wait). `None`
/// when absent or unreadable.
pub fn retry_after(raw: &RawResponse, now: DateTime<Utc>) -> Option<Duration> {
    parse_retry_after(raw.header("retry-after")?, now)
}

/// See [`retry_after`].
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| {
            // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`), then asctime
            // (`Sun Nov  6 08:49:37 1994`): obsolete, but still to be accepted.
            NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
                .or_else(|_| NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y"))
                .map(|naive| naive.and_utc())
        })
        .ok()?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 2, 10, 0, 0).unwrap()
    }

    #[test]
    fn retry_after_reads_seconds_and_the_three_http_date_forms() {
        let secs = Duration::from_secs;
        assert_eq!(parse_retry_after("1", now()), Some(secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now()), Some(secs(120)));
        assert_eq!(
            parse_retry_after("Thu, 02 May 2024 10:00:02 GMT", now()),
            Some(secs(2))
        );
        assert_eq!(
            parse_retry_after("Thursday, 02-May-24 10:00:05 GMT", now()),
            Some(secs(5))
        );
        assert_eq!(
            parse_retry_after("Thu May  2 10:00:07 2024", now()),
            Some(secs(7))
        );
        assert_eq!(
            parse_retry_after("Thu, 02 May 2024 09:59:00 GMT", now()),
            Some(Duration::ZERO),
            "a date already past: no wait"
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-1", now()), None);
    }

    #[test]
    fn at_most_two_retries_within_the_budget_with_a_doubling_backoff() {
        let mut retries = Retries::new(RetryPolicy::default());
        assert_eq!(retries.next_wait(None), Some(Duration::from_millis(250)));
        retries.record(Duration::from_millis(250));
        assert_eq!(retries.next_wait(None), Some(Duration::from_millis(500)));
        retries.record(Duration::from_millis(500));
        assert_eq!(retries.next_wait(None), None, "two retries at most");
        assert_eq!(retries.done(), 2);

        let mut retries = Retries::new(RetryPolicy::default());
        assert_eq!(
            retries.next_wait(Some(Duration::from_secs(30))),
            None,
            "a Retry-After beyond the budget is not waited for"
        );
        assert_eq!(
            retries.next_wait(Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        retries.record(Duration::from_secs(2));
        assert_eq!(
            retries.next_wait(Some(Duration::from_secs(2))),
            None,
            "2 s + 2 s is past the 3 s budget"
        );
        assert_eq!(
            retries.next_wait(Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn only_passing_server_errors_are_retryable_statuses() {
        for status in [500, 502, 503, 504] {
            assert!(retryable_status(status), "{status}");
        }
        for status in [200, 400, 401, 403, 404, 408, 409, 429, 501, 505] {
            assert!(!retryable_status(status), "{status}");
        }
    }

    #[test]
    fn without_a_caller_gate_only_calls_with_the_psu_present_are_retried() {
        let psu = PsuContext::default();
        assert!(default_gate(Some(&psu)).may_retry().now_or_never().unwrap());
        assert!(!default_gate(None).may_retry().now_or_never().unwrap());
    }
}
