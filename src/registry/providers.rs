//! The protocol sections of a profile: which protocol a provider speaks, and what only that
//! protocol's profiles hold. STET's section is in `stet.rs`; the other three are small, and
//! hold the figures their seed documents give, which their connectors will read.

use serde::{Deserialize, Serialize};

use super::profile::Protocol;
use super::stet::StetProfile;

/// A provider's protocol with its section of the profile.
///
/// Serialized as `"protocol": "<tag>"` and the section's fields, flat beside the common ones.
// The STET section is the big one; a registry holds a few dozen profiles, loaded once, so
// boxing it would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum ProtocolProfile {
    /// `[stet]`.
    Stet(StetProfile),
    /// `[treezor]`.
    Treezor(TreezorProfile),
    /// `[contis]`.
    Contis(ContisProfile),
    /// `[currencycloud]`.
    Currencycloud(CurrencycloudProfile),
}

impl ProtocolProfile {
    /// The protocol tag.
    pub fn protocol(&self) -> Protocol {
        match self {
            Self::Stet(_) => Protocol::Stet,
            Self::Treezor(_) => Protocol::Treezor,
            Self::Contis(_) => Protocol::Contis,
            Self::Currencycloud(_) => Protocol::Currencycloud,
        }
    }
}

/// Treezor's OAuth scopes (seed 001: `read_only` for GET, `read_write` for the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreezorScope {
    /// GET requests.
    ReadOnly,
    /// PUT, POST and DELETE requests.
    ReadWrite,
    /// Administration.
    Admin,
    /// Legal (KYC) data.
    Legal,
}

impl TreezorScope {
    /// The scope as requested, e.g. `"read_only"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read_only",
            Self::ReadWrite => "read_write",
            Self::Admin => "admin",
            Self::Legal => "legal",
        }
    }
}

/// `[treezor]`: a Treezor program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreezorProfile {
    /// Scopes requested with the program's token (the intersection with the granted ones is
    /// what Treezor gives).
    pub scopes: Vec<TreezorScope>,
    /// Seconds after the user's SCA within which an external operation must be declared
    /// (seed 000: 300).
    pub sca_declare_within_seconds: u32,
}

/// `[contis]`: a Contis programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContisProfile {
    /// Days a two-factor login exempts balance and recent-transaction reads (seed 002: 90).
    pub two_factor_login_days: u32,
    /// Seconds between two polls of an SCA approval pending in the user's app.
    pub sca_poll_seconds: u32,
}

/// `[currencycloud]`: a Currencycloud account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencycloudProfile {
    /// Seconds an SMS one-time password stays valid (seed 003: 10 minutes).
    pub otp_valid_seconds: u32,
    /// Wrong one-time passwords accepted before the payment is refused (seed 003: 5).
    pub otp_max_attempts: u32,
}
