//! The simulator's users (camille, malo, noor; password `treezor`, PIN `123456`) and their
//! deterministic history, laid out around the sandbox's start so that every run (and every
//! moved clock) sees the same books relative to "now".
//!
//! camille's payment account holds about 150 days: monthly salaries (payins), a card payment
//! every third day (an `A` authorization then an `S` settlement a day later), one refund `R`, one
//! declined `I`, one reversed `V`, two authorizations still pending (they lower
//! `authorizedBalance` only), transfers to her e-money wallet, a SEPA payout and one PENDING
//! payin. malo has a wallet and nothing else; noor is the "other user" of transfers.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::ledger::{CardTx, Direction, Ledger, OpKind, OpStatus, Operation, Wallet, BIC};

/// The PIN every persona types on the hosted login (the SCA factor).
pub const PIN: &str = "123456";
/// Every persona's password.
pub const PASSWORD: &str = "treezor";
/// camille's `userId`.
pub const CAMILLE: u64 = 100_218_468;
/// malo's `userId`.
pub const MALO: u64 = 100_218_470;
/// noor's `userId`.
pub const NOOR: u64 = 100_218_472;
/// camille's payment account (`walletTypeId` 10), the contract's "wallet 10".
pub const CAMILLE_ACCOUNT: u64 = 10;
/// camille's e-money wallet (`walletTypeId` 9), the contract's "wallet 9".
pub const CAMILLE_KITTY: u64 = 9;
/// malo's payment account.
pub const MALO_ACCOUNT: u64 = 20;
/// noor's payment account.
pub const NOOR_ACCOUNT: u64 = 30;
/// The card number camille's card rows show.
pub const MASKED_PAN: &str = "****4242";
/// camille's card.
pub const CAMILLE_CARD: u64 = 8_800_421;

/// A user who can log in.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// The login name.
    pub username: &'static str,
    /// `userId`.
    pub user_id: u64,
    /// First name (account details, statements).
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
    /// Wallets: id, walletTypeId, eventName, the 11-digit account number in the IBAN.
    pub wallets: &'static [(u64, u8, &'static str, &'static str)],
}

/// Every persona.
pub const PERSONAS: &[Persona] = &[
    Persona {
        username: "camille",
        user_id: CAMILLE,
        first_name: "Camille",
        last_name: "Durand",
        wallets: &[
            (CAMILLE_ACCOUNT, 10, "Compte Camille", "00100218468"),
            (CAMILLE_KITTY, 9, "Cagnotte", "00200218468"),
        ],
    },
    Persona {
        username: "malo",
        user_id: MALO,
        first_name: "Malo",
        last_name: "Le Gall",
        wallets: &[(MALO_ACCOUNT, 10, "Compte Malo", "00100218470")],
    },
    Persona {
        username: "noor",
        user_id: NOOR,
        first_name: "Noor",
        last_name: "Haddad",
        wallets: &[(NOOR_ACCOUNT, 10, "Compte Noor", "00100218472")],
    },
];

/// The persona who logs in as `username`.
pub fn find(username: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.username == username.trim())
}

/// The persona holding the wallet with `iban`.
pub fn owner_of_iban(iban: &str) -> Option<&'static Persona> {
    PERSONAS
        .iter()
        .find(|p| p.wallets.iter().any(|w| self::iban(w.3) == iban))
}

/// The persona with `user_id`.
pub fn by_id(user_id: u64) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.user_id == user_id)
}

/// `digits` modulo 97, read as one big decimal number.
fn mod97(digits: &str) -> u32 {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .fold(0, |acc, d| (acc * 10 + d) % 97)
}

/// A French IBAN at Treezor (bank 16798, branch 00001) for an 11-digit account number: RIB key
/// and IBAN check digits both computed, so it passes mod-97 (and comes out as `FR76…`).
pub fn iban(account: &str) -> String {
    let (bank, branch) = ("16798", "00001");
    // RIB key: 97 - (89·bank + 15·branch + 3·account) mod 97, computed digit-wise.
    let weighted = (89 * mod97(bank) + 15 * mod97(branch) + 3 * mod97(account)) % 97;
    let key = 97 - weighted;
    let bban = format!("{bank}{branch}{account}{key:02}");
    // F = 15, R = 27; the check digits are 98 - (BBAN · "FR00") mod 97.
    let check = 98 - mod97(&format!("{bban}152700"));
    format!("FR{check:02}{bban}")
}

/// Whether `iban` passes the ISO 13616 mod-97 check.
pub fn iban_is_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.len() < 15 || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut digits = String::new();
    for c in tail.chars().chain(head.chars()) {
        match c.to_digit(36) {
            Some(d) => digits.push_str(&d.to_string()),
            None => return false,
        }
    }
    mod97(&digits) == 1
}

/// A tiny deterministic generator (LCG): the same history on every start.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

const MERCHANTS: [(&str, &str); 8] = [
    ("MONOPRIX PARIS 11", "5411"),
    ("BOULANGERIE DU MARCHE", "5462"),
    ("SNCF INTERNET", "4112"),
    ("FNAC", "5732"),
    ("PHARMACIE CENTRALE", "5912"),
    ("UBER *TRIP", "4121"),
    ("CARREFOUR CITY", "5411"),
    ("CINEMA MK2", "7832"),
];

/// Opens every persona's wallets and writes their history around `anchor`.
pub fn seed(ledger: &mut Ledger, anchor: DateTime<Utc>) {
    ledger.next_id = 4_000_000;
    for persona in PERSONAS {
        for (id, type_id, name, account) in persona.wallets {
            ledger.wallets.push(Wallet {
                id: *id,
                type_id: *type_id,
                user_id: persona.user_id,
                name: (*name).to_owned(),
                iban: iban(account),
                created: anchor - Duration::days(160),
            });
        }
    }
    let day = |d: i64, h: i64, m: i64| {
        anchor + Duration::days(d) + Duration::hours(h) + Duration::minutes(m)
    };
    let eur = |cents: i64| Decimal::new(cents, 2);
    payin(
        ledger,
        CAMILLE_ACCOUNT,
        "VIREMENT INITIAL",
        eur(150_000),
        day(-150, 0, 0),
        OpStatus::Validated,
    );
    for d in [-145, -115, -85, -55, -25] {
        payin(
            ledger,
            CAMILLE_ACCOUNT,
            "SALAIRE ACME SAS",
            eur(210_000),
            day(d, -2, 0),
            OpStatus::Validated,
        );
    }
    let mut dice = Dice(CAMILLE);
    for k in 0..48 {
        let (merchant, mcc) = MERCHANTS[dice.roll(MERCHANTS.len() as u64) as usize];
        let cents = 500 + dice.roll(7_500) as i64;
        let at = day(-148 + 3 * k, -4, dice.roll(240) as i64);
        settled_card_payment(ledger, merchant, mcc, eur(cents), at);
    }
    // A refund: negative amount (001:6219), credited.
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'R',
        eur(-1_590),
        "FNAC",
        "5732",
        day(-20, -5, 0),
        "",
    );
    let refund = ledger
        .card_txs
        .last()
        .map(|c| c.payment_id)
        .unwrap_or_default();
    card_operation(
        ledger,
        CAMILLE_ACCOUNT,
        refund,
        "FNAC",
        eur(1_590),
        Direction::Credit,
        day(-20, -5, 0),
    );
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'I',
        eur(25_000),
        "APPLE.COM/BILL",
        "5818",
        day(-10, -3, 0),
        "Insufficient funds",
    );
    let reversed = card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'A',
        eur(12_000),
        "TOTAL ENERGIES",
        "5542",
        day(-7, -14, 0),
        "",
    );
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        Some(reversed),
        'V',
        eur(12_000),
        "TOTAL ENERGIES",
        "5542",
        day(-7, -13, 55),
        "",
    );
    // Two authorizations still pending: they lower authorizedBalance only.
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'A',
        eur(4_250),
        "MONOPRIX PARIS 11",
        "5411",
        anchor - Duration::hours(26),
        "",
    );
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'A',
        eur(1_890),
        "UBER *TRIP",
        "4121",
        anchor - Duration::hours(2),
        "",
    );
    for d in [-130, -70, -10] {
        let id = ledger.next_id();
        transfer(
            ledger,
            id,
            CAMILLE_ACCOUNT,
            CAMILLE_KITTY,
            eur(5_000),
            day(d, -6, 0),
        );
    }
    let payout_id = ledger.next_id();
    let op = Operation {
        id: uuid::Uuid::new_v4().to_string(),
        wallet_id: CAMILLE_ACCOUNT,
        kind: OpKind::Payout,
        name: "SCI LES TILLEULS".into(),
        direction: Direction::Debit,
        amount: eur(65_000),
        status: OpStatus::Validated,
        date: day(-40, -8, 0),
        metadata: json!({"payoutId": payout_id.to_string(), "beneficiaryName": "SCI LES TILLEULS", "endToEndId": "LOYER-CAMILLE"}),
    };
    ledger.operations.push(op);
    payin(
        ledger,
        CAMILLE_ACCOUNT,
        "REMBOURSEMENT LEA",
        eur(8_000),
        anchor - Duration::hours(20),
        OpStatus::Pending,
    );
    payin(
        ledger,
        NOOR_ACCOUNT,
        "VIREMENT INITIAL",
        eur(100_000),
        day(-60, 0, 0),
        OpStatus::Validated,
    );
}

/// Records a payin on `wallet`.
pub fn payin(
    ledger: &mut Ledger,
    wallet: u64,
    name: &str,
    amount: Decimal,
    at: DateTime<Utc>,
    status: OpStatus,
) {
    let id = ledger.next_id();
    ledger.operations.push(Operation {
        id: uuid::Uuid::new_v4().to_string(),
        wallet_id: wallet,
        kind: OpKind::Payin,
        name: name.to_owned(),
        direction: Direction::Credit,
        amount,
        status,
        date: at,
        metadata: json!({"payinId": id.to_string()}),
    });
}

/// Records a wallet-to-wallet transfer: a debit and a credit, both VALIDATED (instant).
pub fn transfer(
    ledger: &mut Ledger,
    id: u64,
    from: u64,
    to: u64,
    amount: Decimal,
    at: DateTime<Utc>,
) {
    let name_of =
        |ledger: &Ledger, w: u64| ledger.wallet(w).map(|w| w.name.clone()).unwrap_or_default();
    let metadata = json!({"transferId": id.to_string(), "walletId": from.to_string(), "beneficiaryWalletId": to.to_string()});
    for (wallet, counterpart, direction) in
        [(from, to, Direction::Debit), (to, from, Direction::Credit)]
    {
        let name = name_of(ledger, counterpart);
        ledger.operations.push(Operation {
            id: uuid::Uuid::new_v4().to_string(),
            wallet_id: wallet,
            kind: OpKind::Transfer,
            name,
            direction,
            amount,
            status: OpStatus::Validated,
            date: at,
            metadata: metadata.clone(),
        });
    }
}

/// One card step on the card of `wallet_id`; `payment` continues an existing payment. Returns its
/// `paymentId`.
#[allow(clippy::too_many_arguments)]
pub fn card_step(
    ledger: &mut Ledger,
    wallet_id: u64,
    payment: Option<u64>,
    status: char,
    amount: Decimal,
    merchant: &str,
    mcc: &'static str,
    at: DateTime<Utc>,
    note: &str,
) -> u64 {
    let payment_id = payment.unwrap_or_else(|| ledger.next_id());
    let id = ledger.next_id();
    ledger.card_txs.push(CardTx {
        id,
        card_id: CAMILLE_CARD + wallet_id,
        wallet_id,
        payment_id,
        amount,
        status,
        merchant: merchant.to_owned(),
        mcc,
        date: at,
        note: note.to_owned(),
    });
    payment_id
}

/// A card payment authorized at `at` and settled the next day.
fn settled_card_payment(
    ledger: &mut Ledger,
    merchant: &str,
    mcc: &'static str,
    amount: Decimal,
    at: DateTime<Utc>,
) {
    let payment = card_step(
        ledger,
        CAMILLE_ACCOUNT,
        None,
        'A',
        amount,
        merchant,
        mcc,
        at,
        "",
    );
    let settled = at + Duration::hours(20);
    card_step(
        ledger,
        CAMILLE_ACCOUNT,
        Some(payment),
        'S',
        amount,
        merchant,
        mcc,
        settled,
        "",
    );
    card_operation(
        ledger,
        CAMILLE_ACCOUNT,
        payment,
        merchant,
        amount,
        Direction::Debit,
        settled,
    );
}

/// The operation a settled card step writes (settled payments only appear in operations).
pub fn card_operation(
    ledger: &mut Ledger,
    wallet_id: u64,
    payment_id: u64,
    merchant: &str,
    amount: Decimal,
    direction: Direction,
    at: DateTime<Utc>,
) {
    let minor =
        rust_decimal::prelude::ToPrimitive::to_i64(&(amount * Decimal::ONE_HUNDRED).round())
            .unwrap_or_default();
    ledger.operations.push(Operation {
        id: uuid::Uuid::new_v4().to_string(),
        wallet_id,
        kind: OpKind::CardTransaction,
        name: merchant.to_owned(),
        direction,
        amount,
        status: OpStatus::Validated,
        date: at,
        metadata: json!({
            "paymentId": payment_id.to_string(),
            "maskedPan": MASKED_PAN,
            "merchantName": merchant,
            "localAmount": {"amount": minor, "currency": "978"},
        }),
    });
}

/// The BIC of every wallet.
pub fn bic() -> &'static str {
    BIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ibans_pass_mod_97_and_start_fr76() {
        for persona in PERSONAS {
            for (_, _, _, account) in persona.wallets {
                let iban = iban(account);
                assert!(iban.starts_with("FR7616798"), "{iban}");
                assert_eq!(iban.len(), 27);
                assert!(iban_is_valid(&iban), "{iban}");
            }
        }
        // One digit off is always caught by mod-97.
        assert!(iban_is_valid("FR7616798000010010021846897"));
        assert!(!iban_is_valid("FR7616798000010010021846898"));
    }
}
