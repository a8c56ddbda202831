//! Deterministic transaction histories.
//!
//! Each account has an endless stream of transactions at a steady pace: `count` of them in the
//! `span_days` before the sandbox started (its *anchor*), and more afterwards at the same pace.
//! Transaction `i` is computed from a seed (the IBAN) and `i` alone, so any window is cheap and
//! the same on every machine. Deferred card payments book one to three days after they appear:
//! until then they are `OTHR` (the portal's "not booked" status), keeping their `entryReference`.

use chrono::{DateTime, Duration, Utc};

use super::money::{splitmix64, SplitMix};
use super::personas::AccountSpec;

/// The longest delay between a transaction appearing and booking.
pub const MAX_BOOKING_LAG: Duration = Duration::days(3);

/// How long a pre-authorisation stays pending before it is released.
const RELEASED_AFTER: Duration = Duration::days(2);

/// The booking delay of an operation that never books (a pre-authorisation): a century.
const NEVER: Duration = Duration::days(36_500);

/// What kind of operation a transaction is; it decides the entryReference format (portal table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deferred debit card: 40-digit reference, books later.
    DeferredCard,
    /// SEPA direct debit: 30-character reference.
    DirectDebit,
    /// Incoming transfer: 25-digit reference.
    TransferIn,
    /// Other operations: 40-character timestamp-like reference. Also the kind of a credit
    /// transfer initiated through a PISP (see [`crate::sandbox::payments::debits`]), whose
    /// 40-character reference is derived from the payment request's id instead.
    Other,
    /// Instant (Paylib-like) payment: empty reference.
    Instant,
    /// Paylib-type operation of a `lifecycle` account: pending a day without a reference, booked
    /// with a 40-character one (the portal: "have this data only for BOOK status").
    LateReference,
    /// Card pre-authorisation of a `lifecycle` account: pending two days, then released: never
    /// booked, no longer returned.
    PreAuthorisation,
}

/// One generated transaction.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Position in the account's stream.
    pub index: u64,
    /// The kind of operation.
    pub kind: Kind,
    /// When it appears (as `OTHR` until booked).
    pub created_at: DateTime<Utc>,
    /// When it books.
    pub booked_at: DateTime<Utc>,
    /// Signed amount in cents (negative = debit).
    pub signed_minor: i64,
    /// The remittance line.
    pub label: String,
    /// The STET entryReference once booked (possibly empty; see [`Generated::reference_at`]).
    pub entry_reference: String,
    /// When a pre-authorisation is released (it is not returned from then on).
    pub released_at: Option<DateTime<Utc>>,
    /// Whether rows carry a `transactionDate` (a corporate account's pending rows do not).
    pub dated: bool,
}

impl Generated {
    /// Whether it is booked at `now`.
    pub fn is_booked(&self, now: DateTime<Utc>) -> bool {
        self.booked_at <= now
    }

    /// Whether it is still returned at `now` (a released pre-authorisation is not).
    pub fn exists_at(&self, now: DateTime<Utc>) -> bool {
        self.created_at <= now && self.released_at.map_or(true, |at| at > now)
    }

    /// The entryReference shown at `now`: a Paylib-type operation has none until booked.
    pub fn reference_at(&self, now: DateTime<Utc>) -> &str {
        if self.kind == Kind::LateReference && !self.is_booked(now) {
            ""
        } else {
            &self.entry_reference
        }
    }

    /// The date it is filtered and shown on: booking when booked, else when it appeared.
    pub fn imputation(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_booked(now) {
            self.booked_at
        } else {
            self.created_at
        }
    }
}

/// An account's stream of transactions relative to the sandbox's start, plus the payments
/// initiated from it since.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    account: &'a AccountSpec,
    anchor: DateTime<Utc>,
    payments: &'a [Generated],
}

impl<'a> History<'a> {
    /// The stream of `account` for a sandbox that started at `anchor`.
    pub fn new(account: &'a AccountSpec, anchor: DateTime<Utc>) -> Self {
        Self {
            account,
            anchor,
            payments: &[],
        }
    }

    /// The same stream with the account's confirmed payments in it (all made after `anchor`):
    /// they show in the transactions and move the balances like any other debit.
    pub fn with_payments(self, payments: &'a [Generated]) -> Self {
        Self { payments, ..self }
    }

    fn payments_created_by(&self, now: DateTime<Utc>) -> impl Iterator<Item = &'a Generated> {
        self.payments.iter().filter(move |p| p.created_at <= now)
    }

    fn step(&self) -> Option<i64> {
        let spec = self.account.history;
        (spec.count > 0).then(|| i64::from(spec.span_days) * 86_400 / i64::from(spec.count))
    }

    fn start(&self) -> DateTime<Utc> {
        self.anchor - Duration::days(i64::from(self.account.history.span_days))
    }

    fn seed(&self) -> u64 {
        self.account
            .iban
            .bytes()
            .fold(0x5EED, |acc, b| splitmix64(acc ^ u64::from(b)))
    }

    /// Transaction number `index`.
    pub fn get(&self, index: u64) -> Option<Generated> {
        let step = self.step()?;
        let spec = self.account.history;
        let mut rng = SplitMix::new(self.seed() ^ splitmix64(index));
        let jitter = rng.range(0, (step / 2).max(0));
        let offset = (index as i64).saturating_mul(step).saturating_add(jitter);
        let created_at = self.start() + Duration::seconds(offset);
        let roll = rng.range(0, 99);
        // The last transaction before the start is always a deferred card payment, so every
        // account with a history has something pending when the sandbox starts.
        let from_end = u64::from(spec.count).checked_sub(index);
        let kind = if from_end == Some(1) {
            Kind::DeferredCard
        } else if spec.lifecycle && (from_end == Some(2) || (30..35).contains(&roll)) {
            Kind::LateReference
        } else if spec.lifecycle && (from_end == Some(3) || (35..40).contains(&roll)) {
            Kind::PreAuthorisation
        } else if roll < 40 {
            Kind::DeferredCard
        } else if roll < 60 {
            Kind::DirectDebit
        } else if roll < 72 {
            Kind::TransferIn
        } else if roll < 88 || !spec.instant_payments {
            Kind::Other
        } else {
            Kind::Instant
        };
        let (lag, amount, label) = match kind {
            Kind::DeferredCard => (
                Duration::days(if index + 1 == u64::from(spec.count) {
                    3
                } else {
                    rng.range(1, 3)
                }),
                -rng.range(350, 12_000),
                format!(
                    "CB {} {}",
                    pick(&mut rng, SHOPS),
                    created_at.format("%d/%m")
                ),
            ),
            Kind::DirectDebit => (
                Duration::zero(),
                -rng.range(1_500, 18_000),
                format!("PRLV SEPA {}", pick(&mut rng, CREDITORS)),
            ),
            Kind::TransferIn => (
                Duration::zero(),
                rng.range(20_000, 250_000),
                format!("VIR SEPA {}", pick(&mut rng, PAYERS)),
            ),
            Kind::Other => (
                Duration::zero(),
                -rng.range(1_000, 30_000),
                "RETRAIT DAB".to_owned(),
            ),
            Kind::Instant => (
                Duration::zero(),
                -rng.range(500, 6_000),
                format!("PAYLIB {}", pick(&mut rng, PAYERS)),
            ),
            // A day and an hour: the one just before the start is still pending then.
            Kind::LateReference => (
                Duration::hours(25),
                -rng.range(500, 6_000),
                format!("PAYLIB {}", pick(&mut rng, PAYERS)),
            ),
            // Never booked: released instead (below).
            Kind::PreAuthorisation => (
                NEVER,
                -rng.range(2_000, 15_000),
                format!("CB {} PREAUTORISATION", pick(&mut rng, SHOPS)),
            ),
        };
        let digits = format!("{:020}", splitmix64(self.seed() ^ index) % 10u64.pow(19));
        let prefix = &self.account.resource_id[..14.min(self.account.resource_id.len())];
        let entry_reference = match kind {
            _ if !spec.references => String::new(),
            Kind::DeferredCard | Kind::PreAuthorisation => {
                format!("{prefix}{digits}{:06}", index % 1_000_000)
            }
            Kind::DirectDebit => format!("{prefix}{}G{}", &digits[..6], &digits[..9]),
            Kind::TransferIn => format!("{}{}", &prefix[..5], digits),
            Kind::Other | Kind::LateReference => {
                format!("{prefix}{}", created_at.format("%Y-%m-%d-%H.%M.%S.%6f"))
            }
            Kind::Instant => String::new(),
        };
        Some(Generated {
            index,
            kind,
            created_at,
            booked_at: created_at + lag,
            signed_minor: amount,
            label,
            entry_reference,
            released_at: (kind == Kind::PreAuthorisation).then(|| created_at + RELEASED_AFTER),
            dated: spec.references,
        })
    }

    /// The transactions that exist at `now` whose imputation date is in `[from, to)`,
    /// newest first.
    pub fn window(
        &self,
        now: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<Generated> {
        let to = to.min(now + Duration::seconds(1));
        let mut out: Vec<Generated> = self
            .created_between(from - MAX_BOOKING_LAG, to)
            .chain(self.payments_created_by(now).cloned())
            .filter(|t| t.exists_at(now))
            .filter(|t| {
                let at = t.imputation(now);
                at >= from && at < to
            })
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.imputation(now)));
        out
    }

    /// The closing booked balance at `now`, in cents: the start balance plus what booked since.
    pub fn booked_balance(&self, now: DateTime<Utc>) -> i64 {
        let moved: i64 = self
            .created_between(self.anchor - MAX_BOOKING_LAG, now + Duration::seconds(1))
            .filter(|t| t.booked_at > self.anchor && t.booked_at <= now)
            .map(|t| t.signed_minor)
            .sum();
        let paid: i64 = self
            .payments_created_by(now)
            .filter(|p| p.is_booked(now))
            .map(|p| p.signed_minor)
            .sum();
        self.account.balance_minor + moved + paid
    }

    /// The sum of what has appeared but not booked at `now`, in cents.
    pub fn pending_sum(&self, now: DateTime<Utc>) -> i64 {
        let generated: i64 = self
            .created_between(now - MAX_BOOKING_LAG, now + Duration::seconds(1))
            .filter(|t| t.exists_at(now) && !t.is_booked(now))
            .map(|t| t.signed_minor)
            .sum();
        generated + self.unbooked_payments(now)
    }

    /// What a new payment may spend at `now`: the booked balance less the confirmed payments not
    /// yet booked, so two payments confirmed within the execution delay cannot both spend the
    /// same money. (Pending card payments are not held back: the portal's rule is the booked
    /// balance.)
    pub fn spendable(&self, now: DateTime<Utc>) -> i64 {
        self.booked_balance(now) + self.unbooked_payments(now)
    }

    fn unbooked_payments(&self, now: DateTime<Utc>) -> i64 {
        self.payments_created_by(now)
            .filter(|p| !p.is_booked(now))
            .map(|p| p.signed_minor)
            .sum()
    }

    /// Transactions created in `[from, to)` (any state).
    fn created_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Iterator<Item = Generated> + '_ {
        let (lo, hi) = match self.step() {
            Some(step) if to > from => {
                let start = self.start();
                let lo = ((from - start).num_seconds() / step - 1).max(0);
                let hi = ((to - start).num_seconds() / step + 1).max(0);
                (lo as u64, hi as u64)
            }
            _ => (0, 0),
        };
        (lo..hi)
            .filter_map(|i| self.get(i))
            .filter(move |t| t.created_at >= from && t.created_at < to)
    }
}

const SHOPS: &[&str] = &[
    "CARREFOUR",
    "MONOPRIX",
    "SNCF",
    "FNAC",
    "BOULANGERIE",
    "PHARMACIE",
    "TOTAL",
    "DECATHLON",
];
const CREDITORS: &[&str] = &["EDF", "ORANGE", "FREE MOBILE", "MAIF", "URSSAF", "DGFIP"];
const PAYERS: &[&str] = &["EMPLOYEUR SA", "CAF", "M. DUPONT", "CPAM", "REMBOURSEMENT"];

fn pick(rng: &mut SplitMix, items: &[&'static str]) -> &'static str {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sandbox::personas::by_id;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let account = &by_id("GEORGES").unwrap().accounts[0];
        let anchor = Utc::now();
        let a = History::new(account, anchor).get(42).unwrap();
        let b = History::new(account, anchor).get(42).unwrap();
        assert_eq!(a.entry_reference, b.entry_reference);
        assert_eq!(a.signed_minor, b.signed_minor);
        assert_eq!(a.created_at, b.created_at);
    }

    #[test]
    fn balance_at_start_is_the_persona_balance_and_moves_with_bookings() {
        let account = &by_id("LEA").unwrap().accounts[0];
        let anchor = Utc::now();
        let history = History::new(account, anchor);
        assert_eq!(history.booked_balance(anchor), -15_000);
        assert!(history.pending_sum(anchor) < 0, "a card payment is pending");
        let later = anchor + Duration::days(4);
        assert_ne!(history.booked_balance(later), -15_000);
    }

    #[test]
    fn entry_references_fit_the_schema() {
        let account = &by_id("9999999801").unwrap().accounts[0];
        let history = History::new(account, Utc::now());
        for i in 0..200 {
            assert!(history.get(i).unwrap().entry_reference.len() <= 40);
        }
    }

    #[test]
    fn a_lifecycle_account_shows_late_references_and_a_released_preauthorisation() {
        let account = &by_id("HUGO").unwrap().accounts[0];
        let anchor = Utc::now();
        let history = History::new(account, anchor);
        let from = anchor - Duration::days(10);
        let at_start = history.window(anchor, from, anchor + Duration::days(1));
        let late = at_start
            .iter()
            .find(|t| t.kind == Kind::LateReference && !t.is_booked(anchor))
            .expect("a Paylib-type operation pending at the start");
        assert_eq!(late.reference_at(anchor), "");
        let day_after = anchor + Duration::days(1);
        assert!(late.is_booked(day_after));
        assert_eq!(late.reference_at(day_after).len(), 40);
        let preauth = at_start
            .iter()
            .find(|t| t.kind == Kind::PreAuthorisation && !t.is_booked(anchor))
            .expect("a pre-authorisation pending at the start");
        let next_day = history.window(day_after, from, day_after + Duration::days(1));
        assert!(
            !next_day.iter().any(|t| t.index == preauth.index),
            "released the next day"
        );
        // The booked balance moves by exactly what booked, never by a pre-authorisation.
        let booked_since: i64 = history
            .window(
                day_after,
                anchor - Duration::days(5),
                day_after + Duration::days(1),
            )
            .iter()
            .filter(|t| t.booked_at > anchor && t.is_booked(day_after))
            .map(|t| t.signed_minor)
            .sum();
        assert_eq!(
            history.booked_balance(day_after) - history.booked_balance(anchor),
            booked_since
        );
    }

    #[test]
    fn a_corporate_account_has_no_references_and_undated_pending_rows() {
        let account = &by_id("D0999993I0").unwrap().accounts[0];
        let history = History::new(account, Utc::now());
        for i in 0..150 {
            let t = history.get(i).unwrap();
            assert_eq!(t.entry_reference, "");
            assert!(!t.dated);
        }
    }
}
