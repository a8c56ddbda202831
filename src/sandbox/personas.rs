//! The portal's personas and their accounts. Balances are the closing booked balance (CLBD) at
//! the moment the sandbox starts; histories are generated (see [`super::history`]).
//!
//! Kept traps from the portal: LEA's IBANs fail the mod-97 check, and three of EDMÉ's accounts
//! carry bank code 12759 although EDMÉ banks at 12579.

/// How a generated history looks.
#[derive(Debug, Clone, Copy)]
pub struct HistorySpec {
    /// Transactions before the sandbox starts (then more at the same pace as time moves on).
    pub count: u32,
    /// Over how many days those `count` transactions are spread.
    pub span_days: u32,
    /// Whether instant payments (Paylib-like) are among the kinds: they carry an empty
    /// `entryReference`, as portal test 19 expects of GEORGES.
    pub instant_payments: bool,
    /// Whether the account shows a transaction's whole life over a few bank days: Paylib-type
    /// operations pending a day without `entryReference` and booked with one (the portal's
    /// note 2), and card pre-authorisations pending two days, then released (never booked). The
    /// last three operations before the sandbox starts are one of each plus a deferred card
    /// payment, so each happens within three days of any start.
    pub lifecycle: bool,
    /// Whether operations carry an `entryReference`. The portal gives it to retail and small
    /// professional customers only; a corporate account's rows have none, and its pending
    /// rows no `transactionDate` either (only the required `bookingDate`, the day they appeared).
    pub references: bool,
}

impl HistorySpec {
    /// The same history, showing the lifecycle of pending operations (see `lifecycle`).
    pub const fn with_lifecycle(self) -> Self {
        Self {
            lifecycle: true,
            ..self
        }
    }

    /// The same history, without any `entryReference` (a corporate customer's).
    pub const fn without_references(self) -> Self {
        Self {
            references: false,
            ..self
        }
    }
}

/// One account of a persona.
#[derive(Debug, Clone, Copy)]
pub struct AccountSpec {
    /// The bank (codetab) that holds it: the sandbox bank it is listed at.
    pub bank: &'static str,
    /// The IBAN (not necessarily valid, as on the portal); for a card account, its masked card
    /// number (STET `accountId.other`, scheme `CPAN`). Consents and quotas key on it.
    pub iban: &'static str,
    /// For a card account (STET `CARD`): the `resourceId` of the cash account it is debited
    /// from (`linkedAccount`). `None` for a current account.
    pub card_of: Option<&'static str>,
    /// A large professional or corporate customer's account: 180 days of history instead of
    /// 62 (the portal). Not sent in STET; the bank knows its customer.
    pub corporate: bool,
    /// The STET `resourceId` once consented.
    pub resource_id: &'static str,
    /// The account's name.
    pub name: &'static str,
    /// `PRIV` or `ORGA`.
    pub usage: &'static str,
    /// CLBD when the sandbox starts, in cents.
    pub balance_minor: i64,
    /// Whether an expected balance (XPCD, booked plus pending) is served besides CLBD.
    pub expected_balance: bool,
    /// The generated history.
    pub history: HistorySpec,
}

/// A persona: an online banking id and its accounts at one or both sandbox banks.
#[derive(Debug, Clone, Copy)]
pub struct Persona {
    /// The online banking id typed on the login page.
    pub id: &'static str,
    /// The identity served by `/end-user-identity`.
    pub identity: &'static str,
    /// Every account, at any sandbox bank.
    pub accounts: &'static [AccountSpec],
}

impl Persona {
    /// The persona's accounts at `bank`.
    pub fn accounts_at<'a>(&'a self, bank: &'a str) -> impl Iterator<Item = &'a AccountSpec> + 'a {
        self.accounts.iter().filter(move |a| a.bank == bank)
    }

    /// Whether the persona can log in at `bank`.
    pub fn banks_at(&self, bank: &str) -> bool {
        self.accounts_at(bank).next().is_some()
    }
}

const fn history(count: u32, span_days: u32, instant_payments: bool) -> HistorySpec {
    HistorySpec {
        count,
        span_days,
        instant_payments,
        lifecycle: false,
        references: true,
    }
}

const NO_HISTORY: HistorySpec = history(0, 1, false);

/// Every persona.
pub const PERSONAS: &[Persona] = &[
    Persona {
        id: "LEA",
        identity: "MME LEA SANDBOXA",
        accounts: &[
            AccountSpec {
                bank: "12579",
                iban: "FR7612579000920400430518020",
                resource_id: "125790009204004305180",
                name: "LEA SANDBOXA",
                usage: "PRIV",
                balance_minor: -15_000,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(45, 90, false),
            },
            AccountSpec {
                bank: "12579",
                iban: "FR7612579000920400851811524",
                resource_id: "125790009204008518115",
                name: "LEA SANDBOXA",
                usage: "PRIV",
                balance_minor: 231_045,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(30, 90, false),
            },
        ],
    },
    Persona {
        id: "CLAIRE",
        identity: "MME CLAIRE SANDBOXC",
        accounts: &[
            AccountSpec {
                bank: "17515",
                iban: "FR7617515900000400358074026",
                resource_id: "175159000004003580740",
                name: "CLAIRE SANDBOXC",
                usage: "PRIV",
                balance_minor: 0,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: NO_HISTORY,
            },
            AccountSpec {
                bank: "17515",
                iban: "FR7617515900000800358074006",
                resource_id: "175159000008003580740",
                name: "CLAIRE SANDBOXC",
                usage: "PRIV",
                balance_minor: 152_318,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(40, 90, false),
            },
        ],
    },
    // GEORGES banks at both sandbox banks: one user, two bank connections.
    Persona {
        id: "GEORGES",
        identity: "M. GEORGES SANDBOXG",
        accounts: &[
            AccountSpec {
                bank: "12579",
                iban: "FR2112579000930012345678906",
                resource_id: "125790009300123456789",
                name: "GEORGES SANDBOXG",
                usage: "PRIV",
                balance_minor: 384_211,
                expected_balance: true,
                card_of: None,
                corporate: false,
                history: history(600, 400, true),
            },
            AccountSpec {
                bank: "17515",
                iban: "FR6117515000930087654321012",
                resource_id: "175150009300876543210",
                name: "GEORGES SANDBOXG",
                usage: "PRIV",
                balance_minor: 1_250_000,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(50, 120, false),
            },
        ],
    },
    Persona {
        id: "D0999990I0",
        identity: "M. MARC SANDBOXM",
        accounts: &[AccountSpec {
            bank: "12579",
            iban: "FR8412579000940011122233344",
            resource_id: "125790009400111222333",
            name: "MARC SANDBOXM",
            usage: "PRIV",
            balance_minor: 98_765,
            expected_balance: false,
            card_of: None,
            corporate: false,
            history: history(60, 90, false),
        }],
    },
    Persona {
        id: "D0999993I0",
        identity: "TECH'N CO",
        accounts: &[AccountSpec {
            bank: "12579",
            iban: "FR1912579000950055566677788",
            resource_id: "125790009500555666777",
            name: "TECH'N CO",
            usage: "ORGA",
            balance_minor: 5_432_100,
            expected_balance: false,
            card_of: None,
            corporate: true,
            history: history(150, 90, false).without_references(),
        }],
    },
    Persona {
        id: "9999999801",
        identity: "MR EDMÉ D'EIDASE",
        accounts: &[
            AccountSpec {
                bank: "12579",
                iban: "FR7612579007000860000716515",
                resource_id: "125790070008600007165",
                name: "MR EDMÉ D'EIDASE",
                usage: "PRIV",
                balance_minor: 47_092_657,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(2000, 120, false),
            },
            AccountSpec {
                bank: "12579",
                iban: "FR7612759007000800099862143",
                resource_id: "127590070008000998621",
                name: "MR EDMÉ D'EIDASE",
                usage: "ORGA",
                balance_minor: 18_243_223,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(2000, 120, false),
            },
            AccountSpec {
                bank: "12579",
                iban: "FR7612759007000800081593745",
                resource_id: "127590070008000815937",
                name: "MR EDMÉ D'EIDASE",
                usage: "ORGA",
                balance_minor: 980_371,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(260, 365, false),
            },
            AccountSpec {
                bank: "12579",
                iban: "FR7612759007000800060486060",
                resource_id: "127590070008000604860",
                name: "MR EDMÉ D'EIDASE",
                usage: "PRIV",
                balance_minor: 1_464_678,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(200, 365, false),
            },
        ],
    },
    // HUGO's account shows what happens to pending operations over a few bank days: some book
    // with the reference they had, some get one only when booked, a pre-authorisation is
    // released.
    Persona {
        id: "HUGO",
        identity: "M. HUGO SANDBOXH",
        accounts: &[AccountSpec {
            bank: "12579",
            iban: "FR7612579000970012345678923",
            resource_id: "125790009700123456789",
            name: "HUGO SANDBOXH",
            usage: "PRIV",
            balance_minor: 254_310,
            expected_balance: false,
            card_of: None,
            corporate: false,
            history: history(120, 60, false).with_lifecycle(),
        }],
    },
    // CAMILLE has a deferred-debit card beside her current account: a card account has no
    // IBAN, only a masked card number (`accountId.other`), and a `linkedAccount`.
    Persona {
        id: "CAMILLE",
        identity: "MME CAMILLE SANDBOXK",
        accounts: &[
            AccountSpec {
                bank: "12579",
                iban: "FR1812579000960012345678915",
                resource_id: "125790009600123456789",
                name: "CAMILLE SANDBOXK",
                usage: "PRIV",
                balance_minor: 187_340,
                expected_balance: false,
                card_of: None,
                corporate: false,
                history: history(30, 90, false),
            },
            AccountSpec {
                bank: "12579",
                iban: "497010XXXXXX4213",
                resource_id: "125790009600123456789C1",
                name: "CB VISA PREMIER CAMILLE SANDBOXK",
                usage: "PRIV",
                balance_minor: -42_315,
                expected_balance: false,
                card_of: Some("125790009600123456789"),
                corporate: false,
                history: history(25, 60, false),
            },
        ],
    },
];

/// The persona with online id `id` (case-insensitive) who banks at `bank`.
pub fn find(bank: &str, id: &str) -> Option<&'static Persona> {
    let id = id.trim();
    PERSONAS
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(id) && p.banks_at(bank))
}

/// The persona with exactly this id, at any bank.
pub fn by_id(id: &str) -> Option<&'static Persona> {
    PERSONAS.iter().find(|p| p.id == id)
}
