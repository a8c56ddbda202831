//! What tests (and the connector's tests) use to inspect and drive the simulator:
//! `SandboxHandle::treezor()`.

use actix_web::web;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

use super::error::TreezorError;
use super::ledger::{Direction, BIC};
use super::sca_operations;
use super::state::TreezorState;
use super::webhooks::{self, WebhookTarget};
use super::{personas, sca};

/// A wallet and its balances, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletView {
    /// `walletId`.
    pub wallet_id: u64,
    /// `walletTypeId`.
    pub wallet_type_id: u8,
    /// Owner.
    pub user_id: u64,
    /// `eventName`.
    pub name: String,
    /// IBAN.
    pub iban: String,
    /// BIC.
    pub bic: String,
    /// `currentBalance`.
    pub current_balance: Decimal,
    /// `authorizations`.
    pub authorizations: Decimal,
    /// `authorizedBalance`.
    pub authorized_balance: Decimal,
}

/// A handle on the running Treezor simulator.
#[derive(Clone)]
pub struct TreezorHandle {
    state: web::Data<TreezorState>,
}

impl std::fmt::Debug for TreezorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreezorHandle").finish_non_exhaustive()
    }
}

impl TreezorHandle {
    pub(crate) fn new(state: web::Data<TreezorState>) -> Self {
        Self { state }
    }

    /// When the simulator started (the personas' history is laid out around it).
    pub fn anchor(&self) -> DateTime<Utc> {
        self.state.anchor
    }

    /// A proof from `user_id`'s device for `url` and `body`, issued now: what
    /// `POST /treezor/device/{userId}/sign` answers.
    pub fn sign_proof(
        &self,
        user_id: u64,
        url: &str,
        body: &Value,
    ) -> Result<String, TreezorError> {
        sca::sign_proof(&self.state.keys, user_id, url, body, self.state.now())
    }

    /// A proof issued at `iat` (to test the 300-second window).
    pub fn sign_proof_at(
        &self,
        user_id: u64,
        url: &str,
        body: &Value,
        iat: DateTime<Utc>,
    ) -> Result<String, TreezorError> {
        sca::sign_proof(&self.state.keys, user_id, url, body, iat)
    }

    /// The External Operations declared so far, as their wire objects (with notes).
    pub fn external_operations(&self) -> Vec<Value> {
        self.state
            .lock()
            .external_operations
            .iter()
            .map(|o| o.json())
            .collect()
    }

    /// The scaOperations queued so far, as their wire objects.
    pub fn sca_operations(&self) -> Vec<Value> {
        self.state
            .lock()
            .sca_operations
            .iter()
            .map(|o| o.json())
            .collect()
    }

    /// The device approves scaOperation `id`.
    pub fn approve_sca_operation(&self, id: &str) -> Result<(), TreezorError> {
        let now = self.state.now();
        sca_operations::approve(&mut self.state.lock(), &self.state.keys, id, now)
    }

    /// The device refuses scaOperation `id`.
    pub fn refuse_sca_operation(&self, id: &str) -> Result<(), TreezorError> {
        let now = self.state.now();
        sca_operations::refuse(&mut self.state.lock(), id, now)
    }

    /// A card authorization (`A`) of `amount` at `merchant` now, on `user_id`'s first payment
    /// wallet: it lowers `authorizedBalance` until settled. Returns its `paymentId`.
    pub fn card_payment(
        &self,
        user_id: u64,
        amount: Decimal,
        merchant: &str,
    ) -> Result<u64, TreezorError> {
        let now = self.state.now();
        let mut inner = self.state.lock();
        let wallet = inner
            .ledger
            .wallets_of(user_id)
            .find(|w| w.type_id == 10)
            .map(|w| w.id)
            .ok_or_else(|| {
                TreezorError::not_found(format!("user {user_id} has no payment wallet"))
            })?;
        let payment = personas::card_step(
            &mut inner.ledger,
            wallet,
            None,
            'A',
            amount,
            merchant,
            "5411",
            now,
            "",
        );
        let row = inner
            .ledger
            .card_txs
            .last()
            .map(|c| super::card_transactions::card_json(&inner.ledger, c));
        if let Some(row) = row {
            let id = row["cardtransactionId"].to_string();
            let payload = serde_json::json!({"cardtransactions": [row]});
            webhooks::queue(
                &mut inner,
                "cardtransaction.create",
                "cardtransaction",
                id,
                payload,
            );
        }
        webhooks::balance_update(&mut inner, wallet, now);
        webhooks::release(&self.state, inner);
        Ok(payment)
    }

    /// Settles card payment `payment_id` now (`S`, and its operation).
    pub fn settle_card_payment(&self, payment_id: u64) -> Result<(), TreezorError> {
        let now = self.state.now();
        let mut inner = self.state.lock();
        let auth = inner
            .ledger
            .card_txs
            .iter()
            .find(|c| c.payment_id == payment_id && c.status == 'A')
            .cloned()
            .ok_or_else(|| TreezorError::not_found(format!("no authorization {payment_id}")))?;
        personas::card_step(
            &mut inner.ledger,
            auth.wallet_id,
            Some(payment_id),
            'S',
            auth.amount,
            &auth.merchant,
            auth.mcc,
            now,
            "",
        );
        personas::card_operation(
            &mut inner.ledger,
            auth.wallet_id,
            payment_id,
            &auth.merchant,
            auth.amount,
            Direction::Debit,
            now,
        );
        webhooks::balance_update(&mut inner, auth.wallet_id, now);
        webhooks::release(&self.state, inner);
        Ok(())
    }

    /// `user_id`'s wallets with their balances now.
    pub fn wallets(&self, user_id: u64) -> Vec<WalletView> {
        let now = self.state.now();
        let inner = self.state.lock();
        let ledger = &inner.ledger;
        ledger
            .wallets_of(user_id)
            .map(|w| WalletView {
                wallet_id: w.id,
                wallet_type_id: w.type_id,
                user_id: w.user_id,
                name: w.name.clone(),
                iban: w.iban.clone(),
                bic: BIC.to_owned(),
                current_balance: ledger.current(w.id, now),
                authorizations: ledger.authorizations(w.id, now),
                authorized_balance: ledger.authorized(w.id, now),
            })
            .collect()
    }

    /// Wallet `wallet_id` with its balances now.
    pub fn wallet(&self, wallet_id: u64) -> Option<WalletView> {
        let user = self
            .state
            .lock()
            .ledger
            .wallet(wallet_id)
            .map(|w| w.user_id)?;
        self.wallets(user)
            .into_iter()
            .find(|w| w.wallet_id == wallet_id)
    }

    /// `user_id`'s last strong authentication as the simulator recorded it.
    pub fn last_sca(&self, user_id: u64) -> Option<DateTime<Utc>> {
        self.state.lock().last_sca.get(&user_id).copied()
    }

    /// Sets (or, with `None`, forgets) `user_id`'s last strong authentication: every token
    /// comes from a login with PIN at most 30 days old, so only this lets a test see the
    /// 180-day exemption lapse.
    pub fn set_last_sca(&self, user_id: u64, at: Option<DateTime<Utc>>) {
        let mut inner = self.state.lock();
        match at {
            Some(at) => {
                inner.last_sca.insert(user_id, at);
            }
            None => {
                inner.last_sca.remove(&user_id);
            }
        }
    }

    /// Withholds `/core-connect/operations` (404, as a program that does not serve this
    /// undocumented route), or serves it again.
    pub fn withhold_operations(&self, withheld: bool) {
        self.state.lock().operations_withheld = withheld;
    }

    /// Sends webhooks to `url`, signed with `secret` (see [`super::webhooks`]).
    pub fn set_webhook(&self, url: &str, secret: &str) {
        *self.state.webhook.lock().unwrap_or_else(|e| e.into_inner()) = Some(WebhookTarget {
            url: url.to_owned(),
            secret: secret.to_owned(),
        });
    }
}
