//! Everything the sandbox bank remembers, in memory behind one mutex (the sandbox is a separate
//! bank: it does not use Passerelle's database, and a restart starts it afresh).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::consents::Consent;
use super::faults::FaultSwitch;
use super::history::Generated;
use super::oauth::{AuthCode, Grant, LoginSession};
use super::payments::{self, Payment};
use super::personas::AccountSpec;
use super::qseal::QsealRegistry;
use super::quota::QuotaLedger;
use crate::clock::Clock;

/// The sandbox's shared state.
#[derive(Debug)]
pub struct SandboxState {
    /// The registered TPP's client id (its organisation identifier).
    pub client_id: String,
    /// The registered TPP's QSEAL certificates (one, or two during a renewal).
    pub qseal: QsealRegistry,
    /// The test-controllable clock.
    pub clock: Clock,
    /// Fault injection.
    pub faults: FaultSwitch,
    /// When the sandbox started: generated histories are laid out around it.
    pub anchor: DateTime<Utc>,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// `host:port` of the pages listener, for the links that send a PSU's browser there.
    pub web_host: String,
    inner: Mutex<Inner>,
}

/// The mutable part.
#[derive(Debug, Default)]
pub struct Inner {
    /// Login pages in progress, by session id.
    pub sessions: HashMap<String, LoginSession>,
    /// Authorization codes not yet exchanged.
    pub codes: HashMap<String, AuthCode>,
    /// Token grants, by access token (refresh tokens map to the same key).
    pub grants: HashMap<String, Grant>,
    /// Refresh token → access token of its grant.
    pub refresh_index: HashMap<String, String>,
    /// Consents by (bank, client id, PSU).
    pub consents: HashMap<(String, String, String), Consent>,
    /// Batch-limit counters.
    pub quota: QuotaLedger,
    /// Payment requests by resource id.
    pub payments: HashMap<String, Payment>,
}

impl SandboxState {
    /// A fresh bank.
    pub fn new(
        client_id: String,
        qseal: QsealRegistry,
        clock: Clock,
        faults: FaultSwitch,
        access_token_ttl: Duration,
        web_host: String,
    ) -> Self {
        let anchor = clock.now();
        Self {
            client_id,
            qseal,
            clock,
            faults,
            anchor,
            access_token_ttl,
            web_host,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Locks the mutable state. A panic while holding the lock cannot leave it half-updated in a
    /// way that matters for a sandbox, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sandbox's current instant.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Every payment request: its id and status, settled to the sandbox's now.
    pub fn payment_statuses(&self) -> Vec<(String, &'static str)> {
        let now = self.now();
        let mut inner = self.lock();
        let mut out: Vec<(String, &'static str)> = inner
            .payments
            .iter_mut()
            .map(|(id, p)| {
                payments::settle(p, now);
                (id.clone(), p.status)
            })
            .collect();
        out.sort();
        out
    }

    /// How many grants a PSU gave for payments (`pisp`, authorization code) are still live:
    /// Passerelle revokes each once its payment is confirmed.
    pub fn live_pisp_user_grants(&self) -> usize {
        self.lock()
            .grants
            .values()
            .filter(|g| g.psu.is_some() && g.scope.main == super::oauth::Scope::Pisp && !g.revoked)
            .count()
    }

    /// The payments confirmed from `account`, as its transactions (see [`payments::debits`]).
    /// Takes the lock: not to be called while holding it.
    pub fn payments_from(&self, account: &AccountSpec) -> Vec<Generated> {
        payments::debits(&self.lock(), account)
    }
}

/// A random URL-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if openssl::rand::rand_bytes(&mut buf).is_err() {
        // OpenSSL's CSPRNG does not fail once initialised; fall back to a UUID rather than panic.
        return uuid::Uuid::new_v4().simple().to_string();
    }
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
