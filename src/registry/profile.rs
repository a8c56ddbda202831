//! The validated bank profile ([`Bank`]) and the types it is made of.
//!
//! Values of these types come out of the loader already checked, so the rest of Passerelle
//! can use them without re-validating (a `BankCode` always has five digits, a URL always
//! parses, a maintenance window always has `start < end`).

use std::borrow::Borrow;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};
use url::Url;

use super::providers::ProtocolProfile;
use super::stet::StetProfile;

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

/// API a provider speaks; selects its section of the profile and its connector under `bank/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// French STET PSD2 API (the BPCE group's banks).
    Stet,
    /// Treezor's banking-as-a-service API.
    Treezor,
    /// Contis's API (SCA approved in the user's app).
    Contis,
    /// Currencycloud's API (payments confirmed with a one-time password).
    Currencycloud,
}

impl Protocol {
    /// Every protocol, in the order the registry documents them.
    pub const ALL: [Self; 4] = [Self::Stet, Self::Treezor, Self::Contis, Self::Currencycloud];

    /// Whether its profiles may name an OAuth authorization server (the users' redirect and
    /// the token endpoint): STET's banks and Treezor, the identity provider of its programs.
    pub fn authorizes_by_oauth(self) -> bool {
        matches!(self, Self::Stet | Self::Treezor)
    }

    /// Whether its payments are approved on the user's device, operation by operation
    /// (`signed_proof` or `decoupled`), rather than at the bank's pages (`redirect`).
    pub fn approves_payments_on_device(self) -> bool {
        matches!(self, Self::Treezor)
    }

    /// The tag as written in profiles and shown by the API, e.g. `"stet"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stet => "stet",
            Self::Treezor => "treezor",
            Self::Contis => "contis",
            Self::Currencycloud => "currencycloud",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// The OAuth authorization server's URLs, for the protocols whose users authorize access
    /// at the provider (STET); serialized flat beside `api_base`.
    #[serde(flatten)]
    pub oauth: Option<OAuthEndpoints>,
}

/// The URLs of a provider's OAuth authorization server, for one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthEndpoints {
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

/// Everything Passerelle knows about one provider (a bank, an ASPSP), loaded from
/// `bank-registry/<id>.toml`: the fields every protocol has, and its protocol's own section.
///
/// Serialized as-is by `GET /v1/banks`, minus the local file details: the common fields,
/// `"protocol"`, and the protocol section's fields beside them.
#[derive(Debug, Clone, Serialize)]
pub struct Bank {
    /// Profile id (the file name).
    pub id: BankId,
    /// Name shown to the PSU, e.g. "Caisse d'Epargne Île-de-France".
    pub name: String,
    /// Commercial brand, for grouping in the bank picker, e.g. "Caisse d'Epargne".
    pub brand: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `FR`.
    pub country: String,
    /// The protocol and what only that protocol's profiles have.
    #[serde(flatten)]
    pub profile: ProtocolProfile,
    /// Time zone of the provider's calendar day (quota day, maintenance windows).
    #[serde(serialize_with = "serialize_tz")]
    pub time_zone: Tz,
    /// A profile of Passerelle's built-in sandbox (both environments share its URLs).
    pub sandbox: bool,
    /// Why Passerelle cannot use this bank today, when it cannot (BPCE's live gateways retired
    /// the STET version Passerelle speaks): such a bank is listed by `passerelle banks`, but
    /// neither offered to users nor connectable (so `GET /v1/banks` never shows the field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unusable: Option<String>,
    /// Sandbox and live URLs.
    pub endpoints: BankEndpoints,
    /// Weekly maintenance windows, in `time_zone`.
    pub maintenance: Vec<MaintenanceWindow>,
    /// What it lets Passerelle do with payments; `None`: no payment initiation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<super::PaymentCapabilities>,
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

    /// The protocol the provider speaks.
    pub fn protocol(&self) -> Protocol {
        self.profile.protocol()
    }

    /// The STET section, when the provider speaks STET.
    pub fn stet(&self) -> Option<&StetProfile> {
        match &self.profile {
            ProtocolProfile::Stet(stet) => Some(stet),
            _ => None,
        }
    }

    /// Its Treezor section, when it is a Treezor program.
    pub fn treezor(&self) -> Option<&super::TreezorProfile> {
        match &self.profile {
            ProtocolProfile::Treezor(treezor) => Some(treezor),
            _ => None,
        }
    }

    /// The UTC instant of the local midnight that starts `day` in the bank's time zone (the
    /// earlier one on a day whose midnight repeats).
    pub fn midnight(&self, day: NaiveDate) -> DateTime<Utc> {
        let local = day.and_time(chrono::NaiveTime::MIN);
        self.time_zone
            .from_local_datetime(&local)
            .earliest()
            .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    }

    /// When the bank's calendar day of `at` ends: its next local midnight, when the daily
    /// unattended calls reset.
    pub fn day_ends_at(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let day = at.with_timezone(&self.time_zone).date_naive();
        day.succ_opt()
            .map_or(at + chrono::Duration::days(1), |next| self.midnight(next))
    }

    /// Unattended calls the provider allows per key and calendar day (STET: the profile's
    /// `batch_calls_per_day`); `None` when its profile sets no such limit.
    pub fn batch_calls_per_day(&self) -> Option<u32> {
        self.stet().map(|stet| stet.limits.batch_calls_per_day)
    }
}
