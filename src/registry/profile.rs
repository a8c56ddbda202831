//! The validated bank profile ([`Bank`]) and the types it is made of.
//!
//! Values of these types come out of the loader already checked, so the rest of Passerelle
//! can use them without re-validating (a `BankCode` always has five digits, a URL always
//! parses, a maintenance window always has `start < end`).

use std::borrow::Borrow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

/// Longest accepted bank id; ids appear in URLs and log lines, so keep them short.
const MAX_ID_LEN: usize = 64;

/// Identifier of a bank profile, equal to its registry file name without `.toml`
/// (e.g. `banque-bcp`).
///
/// Made of 1 to 64 lowercase ASCII letters, digits and `-`, neither starting nor ending
/// with `-`, so it is safe in URLs, file names and logs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BankId(String);

/// A string that is not a valid [`BankId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid bank id: use 1 to 64 of `a-z`, `0-9` and `-`, not starting or ending with `-`")]
pub struct InvalidBankId(pub String);

impl BankId {
    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BankId {
    type Err = InvalidBankId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let well_formed = !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && !s.starts_with('-')
            && !s.ends_with('-')
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if well_formed {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBankId(s.to_owned()))
        }
    }
}

impl TryFrom<String> for BankId {
    type Error = InvalidBankId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BankId> for String {
    fn from(id: BankId) -> Self {
        id.0
    }
}

// Lets `BTreeMap<BankId, _>` be queried with a plain `&str`.
impl Borrow<str> for BankId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for BankId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BankId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// French bank code ("code établissement", BPCE's *codetab*): exactly five ASCII digits,
/// e.g. `12579` for Banque BCP. It is also the host label of BPCE's API gateways.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct BankCode(String);

/// A string that is not a valid [`BankCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a bank code: expected exactly 5 digits (e.g. \"12579\")")]
pub struct InvalidBankCode(pub String);

impl BankCode {
    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for BankCode {
    type Err = InvalidBankCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBankCode(s.to_owned()))
        }
    }
}

impl fmt::Display for BankCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// API standard spoken by the bank; selects the connector under `bank/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Protocol {
    /// French STET PSD2 API.
    Stet,
}

/// Version of the protocol, as it appears in the API path (`/stet/psd2/v1.4.2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ProtocolVersion {
    /// STET 1.4.2 (BPCE's version in the portal material we build against).
    #[serde(rename = "1.4.2")]
    V1_4_2,
    /// STET 1.6.2 (BPCE's live gateways since 2023; not implemented yet).
    #[serde(rename = "1.6.2")]
    V1_6_2,
}

impl ProtocolVersion {
    /// The version string, e.g. `"1.4.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_4_2 => "1.4.2",
            Self::V1_6_2 => "1.6.2",
        }
    }
}

/// How the bank learns which accounts and data the PSU shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ConsentModel {
    /// BPCE's "mixed model": after SCA the AISP lists the accounts (without data), the PSU
    /// picks them in Passerelle, and Passerelle sends the choice with `PUT /consents`.
    Mixed,
}

/// OAuth scope (STET role) the bank grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// Account information.
    Aisp,
    /// Payment initiation.
    Pisp,
    /// Funds confirmation (STET 1.4.2+ name).
    Cbpii,
    /// Funds confirmation (STET 1.4.0 name).
    Piisp,
    /// Transaction history beyond 90 days.
    ExtendedTransactionHistory,
}

impl Scope {
    /// The scope as sent in OAuth requests, e.g. `"aisp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aisp => "aisp",
            Self::Pisp => "pisp",
            Self::Cbpii => "cbpii",
            Self::Piisp => "piisp",
            Self::ExtendedTransactionHistory => "extended_transaction_history",
        }
    }
}

/// STET balance type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum BalanceType {
    /// Closing booked (accounting balance).
    Clbd,
    /// Expected (booked plus pending).
    Xpcd,
    /// Value-date balance.
    Valu,
    /// Other (bank-specific).
    Othr,
    /// Interim available.
    Itav,
}

impl BalanceType {
    /// The STET code, e.g. `"CLBD"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clbd => "CLBD",
            Self::Xpcd => "XPCD",
            Self::Valu => "VALU",
            Self::Othr => "OTHR",
            Self::Itav => "ITAV",
        }
    }
}

/// Which of the bank's two platforms a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// The bank's test platform (fictive data, sandbox certificates).
    Sandbox,
    /// Production (real PSU data, live certificates).
    Live,
}

/// URLs of one environment of a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    /// API base including the version path, e.g.
    /// `https://www.12579.sandbox.api.89c3.com/stet/psd2/v1.4.2`.
    pub api_base: Url,
    /// OAuth authorization endpoint (the PSU's browser is sent there).
    pub authorize: Url,
    /// OAuth token endpoint (code exchange, refresh, client credentials).
    pub token: Url,
    /// Token revocation endpoint, when the bank has one.
    pub revoke: Option<Url>,
    /// Authorization endpoint that opens the bank's mobile app (App2App), when offered.
    pub app2app_authorize: Option<Url>,
}

impl Endpoints {
    /// `api_base` joined with an API path such as `/accounts`.
    ///
    /// The path must already be percent-encoded (STET resource ids may hold spaces and `/`).
    /// Joining by hand keeps the version path, which `Url::join` would drop.
    pub fn api_url(&self, path: &str) -> Result<Url, url::ParseError> {
        let base = self.api_base.as_str().trim_end_matches('/');
        Url::parse(&format!("{base}/{}", path.trim_start_matches('/')))
    }
}

/// The sandbox and live URLs of a bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BankEndpoints {
    /// Test platform.
    pub sandbox: Endpoints,
    /// Production platform.
    pub live: Endpoints,
}

impl BankEndpoints {
    /// The URLs of one environment.
    pub fn get(&self, environment: Environment) -> &Endpoints {
        match environment {
            Environment::Sandbox => &self.sandbox,
            Environment::Live => &self.live,
        }
    }
}

/// Data and call limits the bank enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// How far back transactions can be asked for, retail and small professional PSUs (days).
    pub history_days_retail: u32,
    /// How far back transactions can be asked for, large professional and corporate PSUs (days).
    pub history_days_corporate: u32,
    /// Most operations returned by one transactions call.
    pub max_operations_per_call: u32,
    /// Calls allowed per calendar day (in the bank's time zone) without the PSU present, per
    /// TPP, endpoint, PSU, account and method. `0` means no unattended call at all.
    pub batch_calls_per_day: u32,
}

/// What goes into the `keyId` of the HTTP signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "kebab-case")]
pub enum KeyIdFormat {
    /// The OAuth `client_id` (what BPCE expects).
    ClientId,
    /// The STET rule: `<cert_url>_<SHA-256 fingerprint of the QSealC>`, where the URL
    /// serves the certificate.
    CertUrl {
        /// Where the QSealC certificate is published.
        cert_url: Url,
    },
    /// Berlin Group style `SN=<serial hex>,CA=<issuer DN>`.
    SnCa,
}

/// How requests to the bank are signed (draft-cavage HTTP signatures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureProfile {
    /// `keyId` format.
    pub key_id: KeyIdFormat,
    /// Headers (lowercase, pseudo-headers like `(request-target)` included) signed on every
    /// request; signing fails if one is missing.
    pub headers: Vec<String>,
    /// `PSU-*` headers signed, after `headers`, when the PSU is present and the request carries
    /// them (an optional one the PSU's browser did not send is neither sent nor signed).
    pub psu_headers: Vec<String>,
    /// Whether GET requests carry (and sign) a `Digest` of the empty body.
    pub digest_on_get: bool,
}

impl SignatureProfile {
    /// The headers to sign, in order: `headers`, then `psu_headers` when the PSU is present.
    pub fn signed_headers(&self, psu_present: bool) -> impl Iterator<Item = &str> {
        let psu: &[String] = if psu_present { &self.psu_headers } else { &[] };
        self.headers.iter().chain(psu).map(String::as_str)
    }
}

/// Minutes in a day; a window may end at 24:00.
pub(crate) const MINUTES_PER_DAY: u16 = 24 * 60;

/// A weekly period, in the bank's local time, when its API is expected to be down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaintenanceWindow {
    weekday: Weekday,
    start_minute: u16,
    end_minute: u16,
}

impl MaintenanceWindow {
    /// A window on `weekday` from `start_minute` (included) to `end_minute` (excluded),
    /// counted from local midnight; `None` unless `start_minute < end_minute <= 1440`.
    pub fn new(weekday: Weekday, start_minute: u16, end_minute: u16) -> Option<Self> {
        (start_minute < end_minute && end_minute <= MINUTES_PER_DAY).then_some(Self {
            weekday,
            start_minute,
            end_minute,
        })
    }

    /// Day of the week (local).
    pub fn weekday(&self) -> Weekday {
        self.weekday
    }

    /// First minute of the window, counted from local midnight.
    pub fn start_minute(&self) -> u16 {
        self.start_minute
    }

    /// Minute the window ends (excluded), counted from local midnight; 1440 means midnight.
    pub fn end_minute(&self) -> u16 {
        self.end_minute
    }

    /// Whether a local weekday and minute of the day fall in the window.
    fn contains(&self, weekday: Weekday, minute: u16) -> bool {
        weekday == self.weekday && (self.start_minute..self.end_minute).contains(&minute)
    }
}

impl Serialize for MaintenanceWindow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("MaintenanceWindow", 3)?;
        s.serialize_field("weekday", weekday_name(self.weekday))?;
        s.serialize_field("start", &hh_mm(self.start_minute))?;
        s.serialize_field("end", &hh_mm(self.end_minute))?;
        s.end()
    }
}

/// Lowercase English weekday name, the form used in registry files.
fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn hh_mm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// Everything Passerelle knows about one bank (ASPSP), loaded from `bank-registry/<id>.toml`.
///
/// Serialized as-is by `GET /v1/banks`, minus the local file details.
#[derive(Debug, Clone, Serialize)]
pub struct Bank {
    /// Profile id (the file name).
    pub id: BankId,
    /// Name shown to the PSU, e.g. "Caisse d'Epargne Île-de-France".
    pub name: String,
    /// Commercial brand, for grouping in the bank picker, e.g. "Caisse d'Epargne".
    pub brand: String,
    /// Bank code (codetab).
    pub bank_code: BankCode,
    /// ISO 3166-1 alpha-2 country code, e.g. `FR`.
    pub country: String,
    /// API standard.
    pub protocol: Protocol,
    /// API standard version.
    pub protocol_version: ProtocolVersion,
    /// Consent model.
    pub consent_model: ConsentModel,
    /// OAuth scopes the bank grants.
    pub scopes: Vec<Scope>,
    /// Balance types the bank serves.
    pub balance_types: Vec<BalanceType>,
    /// Time zone of the bank's calendar day (quota day, maintenance windows).
    #[serde(serialize_with = "serialize_tz")]
    pub time_zone: Tz,
    /// A profile of Passerelle's built-in sandbox ASPSP (both environments share its URLs).
    pub sandbox: bool,
    /// Whether the bank offers the PSD2 fallback access (`fallback: 1` header).
    pub fallback: bool,
    /// Whether the bank accepts PKCE on the authorization-code flow.
    pub pkce: bool,
    /// Sandbox and live URLs.
    pub endpoints: BankEndpoints,
    /// Data and call limits.
    pub limits: Limits,
    /// HTTP signature rules.
    pub signature: SignatureProfile,
    /// Weekly maintenance windows, in `time_zone`.
    pub maintenance: Vec<MaintenanceWindow>,
    /// Extra CA certificates (PEM) to trust for this bank's TLS, already resolved.
    /// Not serialized: a local path is none of the API client's business.
    #[serde(skip)]
    pub extra_ca_pem: Option<PathBuf>,
    /// Where the profile came from (`bank-registry/<id>.toml` or a file path), for messages.
    #[serde(skip)]
    pub source: String,
}

fn serialize_tz<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(tz.name())
}

impl Bank {
    /// URLs of one environment.
    pub fn endpoints(&self, environment: Environment) -> &Endpoints {
        self.endpoints.get(environment)
    }

    /// Whether `at` falls in one of the bank's maintenance windows.
    ///
    /// Windows are wall-clock times in the bank's time zone, so the UTC instants they cover
    /// move with daylight saving time.
    pub fn in_maintenance(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.time_zone);
        // hour < 24 and minute < 60, so this always fits in u16.
        let minute = (local.hour() * 60 + local.minute()) as u16;
        let weekday = local.weekday();
        self.maintenance.iter().any(|w| w.contains(weekday, minute))
    }

    /// The bank's calendar date at `at`: the day its daily call quota belongs to.
    pub fn calendar_day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// Whether the bank grants `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
