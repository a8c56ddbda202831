//! Fault injection for resilience tests: set a [`FaultPlan`] on a running sandbox through its
//! [`FaultSwitch`]; every API call (not the OAuth pages) then rolls against it.

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

/// A handle to change the fault plan of a running sandbox; clones share it.
#[derive(Debug, Clone, Default)]
pub struct FaultSwitch {
    plan: Arc<Mutex<FaultPlan>>,
    calls: Arc<AtomicU64>,
}

impl FaultSwitch {
    /// Replaces the plan and restarts its roll sequence.
    pub fn set(&self, plan: FaultPlan) {
        *self.plan.lock().unwrap_or_else(|e| e.into_inner()) = plan;
        self.calls.store(0, Ordering::SeqCst);
    }

    /// Back to a well-behaved bank.
    pub fn clear(&self) {
        self.set(FaultPlan::default());
    }

    /// The current plan.
    pub fn plan(&self) -> FaultPlan {
        self.plan.lock().unwrap_or_else(|e| e.into_inner()).clone()
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
