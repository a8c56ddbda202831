//! The STET section of a profile (`[stet]`): what only a STET bank has — its bank code, STET
//! version, consent model, OAuth scopes, balance types, the PSD2 fallback and PKCE flags, its
//! limits and its HTTP-signature rules. Only `bank/stet/` (and the STET sandbox) read it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

/// What a STET bank's profile adds to the common fields (`[stet]` in its file).
///
/// Serialized flat beside the common fields (`GET /v1/banks` keeps the shape it had when STET
/// was the only protocol).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StetProfile {
    /// Bank code (codetab).
    pub bank_code: BankCode,
    /// STET version.
    pub protocol_version: ProtocolVersion,
    /// Consent model.
    pub consent_model: ConsentModel,
    /// OAuth scopes the bank grants.
    pub scopes: Vec<Scope>,
    /// Balance types the bank serves.
    pub balance_types: Vec<BalanceType>,
    /// Whether the bank offers the PSD2 fallback access (`fallback: 1` header).
    pub fallback: bool,
    /// Whether the bank accepts PKCE on the authorization-code flow.
    pub pkce: bool,
    /// Data and call limits.
    pub limits: Limits,
    /// HTTP signature rules.
    pub signature: SignatureProfile,
}

impl StetProfile {
    /// Whether the bank grants `scope`.
    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
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
