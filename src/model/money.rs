//! Money as integer minor units of an ISO 4217 currency.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An ISO 4217 alphabetic currency code (three uppercase ASCII letters), e.g. `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// A string that is not three uppercase ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an ISO 4217 currency code (three uppercase letters)")]
pub struct InvalidCurrency(pub String);

impl Currency {
    /// The euro, the currency of every BPCE account.
    pub const EUR: Currency = Currency(*b"EUR");

    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only uppercase ASCII letters are ever stored, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Number of decimals of the currency's minor unit (ISO 4217 table, 2 when not listed).
    pub fn minor_unit_digits(&self) -> u32 {
        match &self.0 {
            b"BIF" | b"CLP" | b"DJF" | b"GNF" | b"ISK" | b"JPY" | b"KMF" | b"KRW" | b"PYG"
            | b"RWF" | b"UGX" | b"UYI" | b"VND" | b"VUV" | b"XAF" | b"XOF" | b"XPF" => 0,
            b"BHD" | b"IQD" | b"JOD" | b"KWD" | b"LYD" | b"OMR" | b"TND" => 3,
            b"CLF" | b"UYW" => 4,
            _ => 2,
        }
    }
}

impl FromStr for Currency {
    type Err = InvalidCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(InvalidCurrency(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> Self {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a decimal amount cannot become [`Money`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// More significant decimals than the currency's minor unit: converting would round money.
    #[error("{amount} {currency} has more decimals than the currency's minor unit")]
    SubMinorUnit {
        /// The amount as received.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
    },
    /// Does not fit in 64-bit minor units.
    #[error("{amount} {currency} is out of range")]
    OutOfRange {
        /// The amount as received.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
    },
}

/// A signed amount of money: integer minor units (cents for EUR) and a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units; negative for debits and overdrawn balances.
    pub minor: i64,
    /// ISO 4217 currency.
    pub currency: Currency,
}

impl Money {
    /// Money from minor units.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Converts a decimal amount exactly; trailing zeros beyond the minor unit are fine
    /// (`"12.25000"` EUR), a non-zero digit there is an error, never a rounding.
    pub fn from_decimal(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let digits = currency.minor_unit_digits();
        if amount.normalize().scale() > digits {
            return Err(MoneyError::SubMinorUnit { amount, currency });
        }
        let factor = Decimal::from(10_i64.pow(digits));
        let minor = amount
            .checked_mul(factor)
            .and_then(|d| i64::try_from(d.trunc()).ok())
            .ok_or(MoneyError::OutOfRange { amount, currency })?;
        Ok(Self { minor, currency })
    }

    /// The amount as a decimal with the currency's number of decimals (for display and APIs).
    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.minor_unit_digits())
    }

    /// The same amount with the opposite sign.
    #[must_use]
    pub fn negated(self) -> Self {
        Self {
            minor: -self.minor,
            ..self
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn decimal_amounts_become_exact_minor_units() {
        let eur = Currency::EUR;
        assert_eq!(Money::from_decimal(d("12.25"), eur).unwrap().minor, 1225);
        assert_eq!(
            Money::from_decimal(d("-150.00"), eur).unwrap().minor,
            -15000
        );
        assert_eq!(Money::from_decimal(d("12.25000"), eur).unwrap().minor, 1225);
        assert_eq!(Money::from_decimal(d("7"), eur).unwrap().minor, 700);
        let jpy: Currency = "JPY".parse().unwrap();
        assert_eq!(Money::from_decimal(d("1500"), jpy).unwrap().minor, 1500);
    }

    #[test]
    fn sub_cent_amounts_are_refused_not_rounded() {
        assert!(matches!(
            Money::from_decimal(d("0.001"), Currency::EUR),
            Err(MoneyError::SubMinorUnit { .. })
        ));
    }

    #[test]
    fn currency_must_be_three_uppercase_letters() {
        assert!("eur".parse::<Currency>().is_err());
        assert!("EURO".parse::<Currency>().is_err());
        assert_eq!("EUR".parse::<Currency>().unwrap(), Currency::EUR);
        assert_eq!(
            Money::from_minor(-1, Currency::EUR).to_string(),
            "-0.01 EUR"
        );
    }
}
