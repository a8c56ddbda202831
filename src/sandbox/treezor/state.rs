//! Everything the Treezor simulator remembers, in memory behind its own mutex (apart from the
//! STET sandbox's state: the two simulated banks share nothing but the clock and the TPP).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::external_operations::ExternalOperation;
use super::keys::Keys;
use super::ledger::Ledger;
use super::oauth::{Code, LoginPage, RefreshGrant, Session};
use super::payouts::{Beneficiary, Payout};
use super::sca_operations::ScaOperation;
use super::transfers::Transfer;
use super::webhooks::{WebhookEvent, WebhookTarget};
use super::{payouts, personas, sca_operations};
use crate::clock::Clock;

/// The simulator's shared state, one per sandbox, shared by both listeners.
#[derive(Debug)]
pub struct TreezorState {
    /// The registered TPP's OAuth client id (`SandboxOptions.tpp_client_id`).
    pub client_id: String,
    /// The sandbox clock.
    pub clock: Clock,
    /// When the simulator started: the personas' history is laid out around it.
    pub anchor: DateTime<Utc>,
    /// Token-signing and device keys.
    pub keys: Keys,
    /// Where webhooks go, when a test registered a receiver.
    pub webhook: Mutex<Option<WebhookTarget>>,
    inner: Mutex<Inner>,
}

/// The mutable part.
#[derive(Debug, Default)]
pub struct Inner {
    /// Hosted login pages in progress, by their hidden `session` value.
    pub logins: HashMap<String, LoginPage>,
    /// Authorization codes not yet exchanged.
    pub codes: HashMap<String, Code>,
    /// Access tokens (the JWT text) and the session each opened.
    pub tokens: HashMap<String, Session>,
    /// Live refresh tokens.
    pub refresh: HashMap<String, RefreshGrant>,
    /// Each user's last strong authentication (login with PIN, or a valid proof).
    pub last_sca: HashMap<u64, DateTime<Utc>>,
    /// Signatures of the SCA proofs already accepted (single use).
    pub used_proofs: HashSet<String>,
    /// Cross-device approvals.
    pub sca_operations: Vec<ScaOperation>,
    /// Declared External Operations.
    pub external_operations: Vec<ExternalOperation>,
    /// Wallets, operations, card transactions.
    pub ledger: Ledger,
    /// Wallet-to-wallet transfers made through the API.
    pub transfers: Vec<Transfer>,
    /// SEPA beneficiaries.
    pub beneficiaries: Vec<Beneficiary>,
    /// SEPA payouts made through the API.
    pub payouts: Vec<Payout>,
    /// Webhooks to send once the lock is released.
    pub outbox: Vec<WebhookEvent>,
    /// Whether `/core-connect/operations` (absent from Treezor's documentation) is withheld,
    /// answering 404 as a program that does not serve it would.
    pub operations_withheld: bool,
}

impl Inner {
    /// Moves time-driven states forward to `now`: payouts VALIDATED 60 s after creation,
    /// scaOperations EXPIRED after 5 minutes. Every handler calls it first, so a moved clock
    /// is seen at once.
    pub fn settle(&mut self, now: DateTime<Utc>) {
        payouts::settle(self, now);
        sca_operations::expire(self, now);
    }

    /// Records `user_id`'s strong authentication at `at` (never moving it backwards).
    pub fn record_sca(&mut self, user_id: u64, at: DateTime<Utc>) {
        let last = self.last_sca.entry(user_id).or_insert(at);
        if *last < at {
            *last = at;
        }
    }
}

impl TreezorState {
    /// A fresh simulator on `clock`, for the TPP `client_id`. Fails only if OpenSSL cannot
    /// generate keys (start-up).
    pub fn new(client_id: String, clock: Clock) -> anyhow::Result<Self> {
        let keys = Keys::get()?;
        let anchor = clock.now();
        let mut inner = Inner::default();
        personas::seed(&mut inner.ledger, anchor);
        Ok(Self {
            client_id,
            clock,
            anchor,
            keys,
            webhook: Mutex::new(None),
            inner: Mutex::new(inner),
        })
    }

    /// Locks the state, settled to the current time. Poisoning is ignored: a panic cannot
    /// leave the in-memory books inconsistent in a way that matters for a sandbox.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.settle(self.clock.now());
        inner
    }

    /// The simulator's now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
