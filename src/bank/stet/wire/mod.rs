//! Typed wire models of STET PSD2 1.4.2 (AIS, PIS, CBPII), written from the schema
//! (`stet-psd2-api-v1.4.0.47.swagger.yaml` plus the 1.4.2 additions), not from its examples.
//!
//! They are tolerant exactly where deployed banks deviate from the schema (see
//! `reference/STET-NOTES.md`):
//! - amounts as strings (up to 13 digits and 5 decimals) or JSON numbers ([`Amount`]);
//! - dates as `YYYY-MM-DD` or date-times, with offsets like `+0200` ([`StetDate`]);
//! - `remittanceInformation` as an array or as `{"unstructured": […]}` ([`RemittanceInformation`]);
//! - `templated: null` in links ([`Link`]);
//! - enums are open: an unknown code is kept, not rejected (every `open_enum!` type);
//! - `bookingDate` may be missing (pending rows) and the currency may sit at the top level or
//!   inside `accountId` (see [`ais`]).
//!
//! Unknown fields are ignored everywhere: banks add fields, and rejecting a whole page for one
//! extra property would lose the PSU's data.

pub mod ais;
pub mod pis;

mod scalar;

pub use scalar::{Amount, InvalidAmount, RemittanceInformation, StetDate};

use serde::{Deserialize, Serialize};

/// Generates an open enum: the schema's codes as variants plus `Unknown(String)` for codes a
/// bank added, serialized as the plain code string.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A code the schema does not list, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The code as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $code,)+
                    Self::Unknown(code) => code,
                }
            }

            /// The variant for a code; unknown codes are kept.
            pub fn from_code(code: &str) -> Self {
                match code {
                    $($code => Self::$variant,)+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct CodeVisitor;
                impl serde::de::Visitor<'_> for CodeVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a code string")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_code(v))
                    }
                }
                d.deserialize_str(CodeVisitor)
            }
        }
    };
}
pub(crate) use open_enum;

/// A HAL link (`GenericLink`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Target, relative or absolute.
    pub href: String,
    /// Whether `href` is a URI template; BPCE sends `null`, read as absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templated: Option<bool>,
}

/// The Spring-style error body (`ErrorModel`): `{timestamp,status,error,message,path}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorModel {
    /// When the error happened (lenient: `+0000` offsets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<StetDate>,
    /// HTTP status.
    pub status: i32,
    /// Short error name, e.g. `invalid_token` or `Bad Request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Explanation.
    pub message: String,
    /// Request path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// `AmountType`: an amount and its currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountType {
    /// ISO 4217 code.
    pub currency: String,
    /// The amount (sign allowed on balances).
    pub amount: Amount,
}

/// `GenericIdentification`: an identifier under a scheme (`BANK`, `COID`, `SREN`, `CPAN`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenericIdentification {
    /// The identifier.
    pub identification: String,
    /// The scheme name.
    pub scheme_name: String,
    /// Issuer of the identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
}

/// `AccountIdentification`: an IBAN or another identification.
///
/// `currency` is not in the 1.4.0.47 schema; BPCE's 1.4.2 prose moves the account currency
/// here while its samples keep it at the account's top level, so both are read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountIdentification {
    /// IBAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iban: Option<String>,
    /// Other identification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<GenericIdentification>,
    /// Account currency (BPCE 1.4.2 placement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// `PostalAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostalAddress {
    /// ISO 3166 country code.
    pub country: String,
    /// Up to four address lines.
    pub address_line: Vec<String>,
}

/// `PartyIdentification`: a person or organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartyIdentification {
    /// Name.
    pub name: String,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<PostalAddress>,
    /// Organisation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<GenericIdentification>,
    /// Private person id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_id: Option<GenericIdentification>,
}

/// `ClearingSystemMemberIdentification`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClearingSystemMemberIdentification {
    /// Clearing system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing_system_id: Option<String>,
    /// Member id in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// `FinancialInstitutionIdentification`: a bank by BIC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinancialInstitutionIdentification {
    /// BIC.
    pub bic_fi: String,
    /// Clearing system membership.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing_system_member_id: Option<ClearingSystemMemberIdentification>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<PostalAddress>,
}

/// `Beneficiary`: a creditor (trusted beneficiaries list, payment requests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Beneficiary {
    /// Id of the beneficiary at the bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Whether the PSU marked it trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_trusted: Option<bool>,
    /// Creditor's bank.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor_agent: Option<FinancialInstitutionIdentification>,
    /// Creditor.
    pub creditor: PartyIdentification,
    /// Creditor's account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creditor_account: Option<AccountIdentification>,
}

/// A body that does not parse as the expected STET resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct WireError {
    /// JSON path of the offending field (`.` for the document itself), e.g.
    /// `transactions[3].transactionAmount.amount`.
    pub field: String,
    /// What serde found wrong.
    pub message: String,
}

/// Parses a STET body.
///
/// The fast path is plain `serde_json`; only a failing body is parsed again with path
/// tracking, so that the error names the offending field without slowing down every page.
pub fn from_slice<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(first) => {
            let de = &mut serde_json::Deserializer::from_slice(body);
            match serde_path_to_error::deserialize::<_, T>(de) {
                Err(e) => Err(WireError {
                    field: e.path().to_string(),
                    message: e.into_inner().to_string(),
                }),
                // Cannot happen (same input, same type), but never trust it blindly.
                Ok(_) => Err(WireError {
                    field: ".".to_owned(),
                    message: first.to_string(),
                }),
            }
        }
    }
}
