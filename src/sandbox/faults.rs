//! Fault injection for resilience tests: set a [`FaultPlan`] on a running sandbox through its
//! [`FaultSwitch`]; every API call (not the OAuth pages) then rolls against it. Scripts
//! ([`ScriptedFault`]) fail chosen calls exactly, and the switch keeps a log of recent calls.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::money::splitmix64;

/// What to break, as shares in per mille (0 = never, 1000 = every call). The rolls come from a
/// seeded counter, so a plan gives the same sequence of faults on every run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Added before every API answer.
    pub latency: Duration,
    /// Share answered 500 or 503 (alternately), both with `Retry-After: 1`.
    pub server_error_permille: u32,
    /// Share answered 429 with `Retry-After: 1`.
    pub too_many_requests_permille: u32,
    /// Share whose JSON body is cut short (still 200, `application/json`).
    pub malformed_json_permille: u32,
    /// Share whose connection is dropped after part of the body.
    pub drop_connection_permille: u32,
    /// Share of calls whose access token is revoked just before it is checked (401).
    pub revoke_token_permille: u32,
    /// Seed of the rolls.
    pub seed: u64,
    /// Added after the answer is made and before it is sent, for the calls whose path ends
    /// with [`Self::hold_path_suffix`]: the bank has done the work, the caller does not know
    /// yet (the instant a `kill -9` test aims at).
    pub hold_answer: Duration,
    /// Which calls [`Self::hold_answer`] holds (empty: every call).
    pub hold_path_suffix: String,
}

/// What the roll decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 500 with `Retry-After`.
    InternalError,
    /// Answer 503 with `Retry-After`.
    Unavailable,
    /// Answer 429 with `Retry-After`.
    TooManyRequests,
    /// Serve a truncated JSON body.
    MalformedJson,
    /// Drop the connection mid-body.
    DropConnection,
}

/// A scripted answer: the next `times` API calls that match are answered `status` (a STET
/// `ErrorModel` body) instead of the real answer, before the plan's rolls. Unlike the plan's
/// shares, a script says exactly which call fails, which is what a retry test needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedFault {
    /// Only calls with this method, upper case (`None`: any method).
    pub method: Option<String>,
    /// Only calls whose path ends with this, e.g. `/balances` (empty: any path).
    pub path_suffix: String,
    /// The status answered: 500, 502, 503, 504 or 429 (anything else answers 503).
    pub status: u16,
    /// The `Retry-After` value, sent as is (delta-seconds or an HTTP-date); `None` sends none.
    pub retry_after: Option<String>,
    /// How many matching calls are answered so.
    pub times: u32,
}

impl ScriptedFault {
    /// The next `times` API calls, whatever they are, answered 503 with `Retry-After: 1`.
    pub fn unavailable(times: u32) -> Self {
        Self {
            method: None,
            path_suffix: String::new(),
            status: 503,
            retry_after: Some("1".into()),
            times,
        }
    }

    /// Only `method` calls whose path ends with `path_suffix`.
    pub fn on(mut self, method: &str, path_suffix: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self.path_suffix = path_suffix.to_owned();
        self
    }

    /// Answered `status` instead.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// With this `Retry-After` value (`None`: no header).
    pub fn with_retry_after(mut self, value: Option<&str>) -> Self {
        self.retry_after = value.map(str::to_owned);
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self
                .method
                .as_deref()
                .map_or(true, |m| m.eq_ignore_ascii_case(method))
            && path.ends_with(&self.path_suffix)
    }
}

/// One API call as the sandbox received it (the call log tests read with
/// [`FaultSwitch::seen`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCall {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// The query string, as sent (empty without one).
    pub query: String,
    /// Whether `PSU-IP-Address` was sent (a call with the PSU present).
    pub psu_present: bool,
    /// The `X-Request-ID` sent, if any (a bank logs a call without one as a violation).
    pub request_id: Option<String>,
    /// The status a script answered instead of the real answer, if one did.
    pub scripted: Option<u16>,
}

/// The most calls the log keeps: the sandbox also runs for days under `serve`, so the log
/// must not grow without bound; tests look at a handful of recent calls.
const SEEN_CAPACITY: usize = 1024;

/// A handle to change the fault plan of a running sandbox; clones share it.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    plan: Arc<Mutex<FaultPlan>>,
    calls: Arc<AtomicU64>,
    scripts: Arc<Mutex<Vec<ScriptedFault>>>,
    seen: Arc<Mutex<VecDeque<SeenCall>>>,
}

impl FaultSwitch {
    /// Replaces the plan and restarts its roll sequence.
    pub fn set(&self, plan: FaultPlan) {
        *lock(&self.plan) = plan;
        self.calls.store(0, Ordering::SeqCst);
    }

    /// Back to a well-behaved bank: no plan, no script (the call log is kept).
    pub fn clear(&self) {
        self.set(FaultPlan::default());
        lock(&self.scripts).clear();
    }

    /// Adds a script, after those already set; the first matching script with calls left
    /// answers a call.
    pub fn script(&self, script: ScriptedFault) {
        lock(&self.scripts).push(script);
    }

    /// The recent API calls, oldest first (at most the last 1024).
    pub fn seen(&self) -> Vec<SeenCall> {
        lock(&self.seen).iter().cloned().collect()
    }

    /// Forgets the call log.
    pub fn forget_seen(&self) {
        lock(&self.seen).clear();
    }

    /// Logs one API call (`call.scripted` is filled in here) and returns the scripted answer
    /// it gets, if a script matches: the status and the `Retry-After` value.
    pub fn scripted(&self, mut call: SeenCall) -> Option<(u16, Option<String>)> {
        let answer = {
            let mut scripts = lock(&self.scripts);
            let found = scripts
                .iter_mut()
                .find(|s| s.matches(&call.method, &call.path));
            found.map(|s| {
                s.times -= 1;
                (s.status, s.retry_after.clone())
            })
        };
        call.scripted = answer.as_ref().map(|(status, _)| *status);
        let mut seen = lock(&self.seen);
        if seen.len() == SEEN_CAPACITY {
            seen.pop_front();
        }
        seen.push_back(call);
        answer
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        lock(&self.plan).clone()
    }

    /// Rolls for one API call: the fault to inject (if any) and whether to revoke its token.
    pub fn roll(&self) -> (Option<Fault>, bool) {
        let plan = self.plan();
        if plan == FaultPlan::default() {
            return (None, false);
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let mut bits = splitmix64(plan.seed ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut next = || {
            let roll = (bits % 1000) as u32;
            bits = splitmix64(bits);
            roll
        };
        let revoke = next() < plan.revoke_token_permille;
        let fault = if next() < plan.server_error_permille {
            Some(if n % 2 == 0 {
                Fault::Unavailable
            } else {
                Fault::InternalError
            })
        } else if next() < plan.too_many_requests_permille {
            Some(Fault::TooManyRequests)
        } else if next() < plan.malformed_json_permille {
            Some(Fault::MalformedJson)
        } else if next() < plan.drop_connection_permille {
            Some(Fault::DropConnection)
        } else {
            None
        };
        (fault, revoke)
    }
}

/// Locks a part of the switch. A panic while holding it leaves nothing half-updated that
/// matters to a test bank, so poisoning is ignored.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(method: &str, path: &str, psu_present: bool) -> SeenCall {
        SeenCall {
            method: method.to_owned(),
            path: path.to_owned(),
            query: String::new(),
            psu_present,
            request_id: None,
            scripted: None,
        }
    }

    #[test]
    fn a_script_answers_only_its_matching_calls_as_many_times_as_it_says() {
        let switch = FaultSwitch::default();
        switch.script(
            ScriptedFault::unavailable(2)
                .on("get", "/balances")
                .with_retry_after(Some("30")),
        );
        assert_eq!(switch.scripted(call("GET", "/x/accounts", true)), None);
        assert_eq!(switch.scripted(call("PUT", "/x/balances", true)), None);
        let answer = Some((503, Some("30".to_owned())));
        assert_eq!(switch.scripted(call("GET", "/x/a/balances", false)), answer);
        assert_eq!(switch.scripted(call("GET", "/x/b/balances", false)), answer);
        assert_eq!(
            switch.scripted(call("GET", "/x/a/balances", false)),
            None,
            "spent"
        );
        let seen = switch.seen();
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[2].scripted, Some(503));
        assert!(!seen[2].psu_present && seen[0].psu_present);
        assert_eq!(seen[4].scripted, None);
    }

    #[test]
    fn the_call_log_keeps_only_the_most_recent_calls() {
        let switch = FaultSwitch::default();
        for i in 0..SEEN_CAPACITY + 5 {
            switch.scripted(call("GET", &format!("/{i}"), false));
        }
        let seen = switch.seen();
        assert_eq!(seen.len(), SEEN_CAPACITY);
        assert_eq!(seen[0].path, "/5");
        switch.clear();
        assert_eq!(switch.seen().len(), SEEN_CAPACITY, "clear keeps the log");
        switch.forget_seen();
        assert!(switch.seen().is_empty());
    }
}
