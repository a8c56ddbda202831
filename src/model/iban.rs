//! IBANs as banks send them: kept even when the check digits are wrong.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An IBAN, normalized (spaces removed, uppercase), with whether its ISO 7064 mod-97 check
/// passes.
///
/// An invalid IBAN is kept rather than rejected: sandbox personas and some banks send ones
/// that fail the check, and dropping the account would hide data the PSU consented to share.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Iban {
    value: String,
    valid: bool,
}

impl Iban {
    /// Normalizes `raw` and runs the structure and mod-97 checks.
    pub fn new(raw: &str) -> Self {
        let value: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let valid = check(&value);
        Self { value, valid }
    }

    /// The normalized IBAN.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether it has a valid structure and check digits.
    pub fn is_valid(&self) -> bool {
        self.valid
    }

    /// The ISO 3166 country code (first two characters), if well formed.
    pub fn country(&self) -> Option<&str> {
        self.value.get(..2)
    }
}

/// Structure (2 letters, 2 digits, 11 to 30 alphanumerics) and mod-97 == 1.
fn check(iban: &str) -> bool {
    let bytes = iban.as_bytes();
    if !(15..=34).contains(&bytes.len())
        || !bytes[..2].iter().all(u8::is_ascii_uppercase)
        || !bytes[2..4].iter().all(u8::is_ascii_digit)
        || !bytes.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in bytes[4..].iter().chain(&bytes[..4]) {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97;
        }
    }
    rem == 1
}

impl fmt::Display for Iban {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_french_iban_passes_mod97() {
        let iban = Iban::new("FR76 1090 7000 3012 3456 7890 125");
        assert_eq!(iban.as_str(), "FR7610907000301234567890125");
        assert_eq!(iban.country(), Some("FR"));
        assert!(Iban::new("FR7617515900000400358074026").is_valid());
        assert!(Iban::new("DE89370400440532013000").is_valid());
    }

    #[test]
    fn invalid_iban_is_kept_with_flag() {
        let iban = Iban::new("FR7610907000301234567890126");
        assert!(!iban.is_valid());
        assert_eq!(iban.as_str(), "FR7610907000301234567890126");
        assert!(!Iban::new("YY64COJH41059545330222956960771322").is_valid());
        assert!(!Iban::new("").is_valid());
    }
}
