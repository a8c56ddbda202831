//! The simulator's books: wallets, the operations that move their balances, and the card
//! transactions (every step of a card payment). Balances are never stored: they are summed from
//! the operations at the instant asked, so history, `/v1/balances` and the card rows'
//! `authorizedBalance` always agree.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

/// The only BIC: every simulated wallet is at Treezor, so wallet-to-wallet transfers always
/// satisfy the same-BIC rule (001:11612).
pub const BIC: &str = "TRZOFR21XXX";

/// An unsettled card authorization stops counting after this long (001:6231: day 10 → 11).
pub const AUTHORIZATION_LIFETIME: Duration = Duration::days(10);

/// A wallet.
#[derive(Debug, Clone)]
pub struct Wallet {
    /// `walletId`.
    pub id: u64,
    /// 10 (payment account) or 9 (e-money).
    pub type_id: u8,
    /// The owner.
    pub user_id: u64,
    /// `eventName`.
    pub name: String,
    /// A mod-97-valid French IBAN.
    pub iban: String,
    /// When it was opened.
    pub created: DateTime<Utc>,
}

/// What kind of operation moved money (`type` on `/core-connect/operations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// Wallet to wallet.
    Transfer,
    /// Incoming money.
    Payin,
    /// Outgoing SEPA credit transfer.
    Payout,
    /// A settled card payment or refund.
    CardTransaction,
}

impl OpKind {
    /// The wire `type`.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Transfer => "transfer",
            Self::Payin => "payin",
            Self::Payout => "payout",
            Self::CardTransaction => "cardTransaction",
        }
    }

    /// The statement's `type` label (001:13760-13800).
    pub fn statement_label(self) -> &'static str {
        match self {
            Self::Transfer => "Virement interne",
            Self::Payin => "Vir SEPA reçu",
            Self::Payout => "Vir SEPA",
            Self::CardTransaction => "Carte",
        }
    }
}

/// `DEBIT` or `CREDIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Money out.
    Debit,
    /// Money in.
    Credit,
}

impl Direction {
    /// The wire value.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Debit => "DEBIT",
            Self::Credit => "CREDIT",
        }
    }
}

/// An operation's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpStatus {
    /// Not yet final (a payin on its way, a payout before SEPA).
    Pending,
    /// Final, counted in the balance.
    Validated,
    /// Abandoned.
    Canceled,
}

impl OpStatus {
    /// The wire value.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Validated => "VALIDATED",
            Self::Canceled => "CANCELED",
        }
    }
}

/// One operation on one wallet (a transfer is two: a debit and a credit).
#[derive(Debug, Clone)]
pub struct Operation {
    /// `operationId` (UUID).
    pub id: String,
    /// The wallet it moves.
    pub wallet_id: u64,
    /// Its kind.
    pub kind: OpKind,
    /// `name` (the counterpart or merchant).
    pub name: String,
    /// Which way.
    pub direction: Direction,
    /// Unsigned amount in EUR.
    pub amount: Decimal,
    /// Its status.
    pub status: OpStatus,
    /// When it happened.
    pub date: DateTime<Utc>,
    /// Per-kind details, already in wire form.
    pub metadata: Value,
}

impl Operation {
    /// The signed effect on the balance.
    pub fn signed(&self) -> Decimal {
        match self.direction {
            Direction::Debit => -self.amount,
            Direction::Credit => self.amount,
        }
    }
}

/// One step of a card payment (`paymentStatus` A, S, R, I, V…, 001:7441-7451).
#[derive(Debug, Clone)]
pub struct CardTx {
    /// `cardtransactionId`.
    pub id: u64,
    /// `cardId`.
    pub card_id: u64,
    /// The wallet the card is attached to.
    pub wallet_id: u64,
    /// `paymentId`, shared by the steps of one payment.
    pub payment_id: u64,
    /// `paymentAmount`, negative for refunds and MoneySend.
    pub amount: Decimal,
    /// `paymentStatus`.
    pub status: char,
    /// `merchantName`.
    pub merchant: String,
    /// `mcc`.
    pub mcc: &'static str,
    /// When the step happened.
    pub date: DateTime<Utc>,
    /// `authorizationNote` (why a payment was declined).
    pub note: String,
}

/// Everything that holds money.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Every wallet.
    pub wallets: Vec<Wallet>,
    /// Every operation, in creation order.
    pub operations: Vec<Operation>,
    /// Every card transaction step, in creation order.
    pub card_txs: Vec<CardTx>,
    /// The next numeric id handed out (payments, transfers, payouts, beneficiaries…).
    pub next_id: u64,
}

impl Ledger {
    /// A fresh numeric id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The wallet `id`.
    pub fn wallet(&self, id: u64) -> Option<&Wallet> {
        self.wallets.iter().find(|w| w.id == id)
    }

    /// The wallets of `user_id`.
    pub fn wallets_of(&self, user_id: u64) -> impl Iterator<Item = &Wallet> + '_ {
        self.wallets.iter().filter(move |w| w.user_id == user_id)
    }

    /// The settled balance (`currentBalance`, `solde`) of `wallet` at `at`.
    pub fn current(&self, wallet: u64, at: DateTime<Utc>) -> Decimal {
        self.operations
            .iter()
            .filter(|o| o.wallet_id == wallet && o.status == OpStatus::Validated && o.date <= at)
            .map(Operation::signed)
            .sum()
    }

    /// What is held but not settled (`authorizations`) at `at`: card authorizations `A` not
    /// yet settled, reversed or expired, and payouts still PENDING.
    pub fn authorizations(&self, wallet: u64, at: DateTime<Utc>) -> Decimal {
        let cards: Decimal = self
            .card_txs
            .iter()
            .filter(|c| {
                c.wallet_id == wallet
                    && c.status == 'A'
                    && c.date <= at
                    && at - c.date < AUTHORIZATION_LIFETIME
                    && !self.card_txs.iter().any(|d| {
                        d.payment_id == c.payment_id
                            && d.date <= at
                            && matches!(d.status, 'S' | 'V' | 'I' | 'C')
                    })
            })
            .map(|c| c.amount)
            .sum();
        let payouts: Decimal = self
            .operations
            .iter()
            .filter(|o| {
                o.wallet_id == wallet
                    && o.kind == OpKind::Payout
                    && o.status == OpStatus::Pending
                    && o.date <= at
            })
            .map(|o| o.amount)
            .sum();
        cards + payouts
    }

    /// `authorizedBalance` at `at`: the settled balance minus what is held.
    pub fn authorized(&self, wallet: u64, at: DateTime<Utc>) -> Decimal {
        self.current(wallet, at) - self.authorizations(wallet, at)
    }
}
