//! The registry file as serde reads it: `Raw*` structs that mirror the TOML, with
//! `deny_unknown_fields` everywhere so a typo is an error rather than a silently ignored key.
//! `load::build` checks every value and turns them into the typed profile.

use serde::Deserialize;

use super::providers::{ContisProfile, CurrencycloudProfile, TreezorProfile};
use super::stet::{BalanceType, ConsentModel, Limits, ProtocolVersion, Scope};

/// The fields every profile has, and one section per protocol; `load::build` checks that the
/// section present is the one `protocol` names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) brand: String,
    pub(super) country: String,
    // A string, so that an unknown protocol is reported with its key (`load::build`).
    pub(super) protocol: String,
    pub(super) time_zone: String,
    #[serde(default)]
    pub(super) sandbox: bool,
    pub(super) unusable: Option<String>,
    pub(super) extra_ca_pem: Option<String>,
    pub(super) endpoints: RawEndpointsTable,
    #[serde(default)]
    pub(super) maintenance: Vec<RawWindow>,
    pub(super) stet: Option<RawStet>,
    pub(super) treezor: Option<TreezorProfile>,
    pub(super) contis: Option<ContisProfile>,
    pub(super) currencycloud: Option<CurrencycloudProfile>,
    pub(super) payments: Option<super::PaymentCapabilities>,
}

/// `[stet]`, with `[stet.limits]` and `[stet.signature]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStet {
    pub(super) bank_code: String,
    pub(super) version: ProtocolVersion,
    pub(super) consent_model: ConsentModel,
    pub(super) scopes: Vec<Scope>,
    pub(super) balance_types: Vec<BalanceType>,
    pub(super) fallback: bool,
    pub(super) pkce: bool,
    pub(super) limits: Limits,
    pub(super) signature: RawSignature,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpointsTable {
    pub(super) sandbox: RawEndpoints,
    pub(super) live: Option<RawEndpoints>,
}

// URLs stay strings here: sandbox ones hold `{sandbox}`, which is not valid in a host.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoints {
    pub(super) api_base: String,
    // The OAuth endpoints: required by STET, refused by the others.
    pub(super) authorize: Option<String>,
    pub(super) token: Option<String>,
    pub(super) revoke: Option<String>,
    pub(super) app2app_authorize: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(super) enum RawKeyId {
    ClientId,
    CertUrl,
    SnCa,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSignature {
    pub(super) key_id: RawKeyId,
    pub(super) cert_url: Option<String>,
    pub(super) headers: Vec<String>,
    #[serde(default)]
    pub(super) psu_headers: Vec<String>,
    pub(super) digest_on_get: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) weekday: String,
    pub(super) start: String,
    pub(super) end: String,
}
