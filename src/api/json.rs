//! JSON shapes shared by several resources.

use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::model::Currency;

/// An exact amount: a decimal string in the currency's major unit, never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Amount {
    /// Signed decimal string, e.g. `-42.50`.
    #[schema(example = "-42.50")]
    pub value: String,
    /// ISO 4217 code.
    #[schema(example = "EUR")]
    pub currency: String,
}

impl Amount {
    /// Renders integer minor units in `currency`'s ISO 4217 exponent (the model's table; 2 for
    /// a code it cannot read, which the store never holds).
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        let digits = currency
            .parse::<Currency>()
            .map(|c| c.minor_unit_digits())
            .unwrap_or(2);
        Self {
            value: Decimal::new(minor, digits).to_string(),
            currency: currency.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_render_exactly_in_the_currency_exponent() {
        assert_eq!(Amount::from_minor(-15_000, "EUR").value, "-150.00");
        assert_eq!(Amount::from_minor(5, "EUR").value, "0.05");
        assert_eq!(Amount::from_minor(-5, "EUR").value, "-0.05");
        assert_eq!(Amount::from_minor(47_092_657, "EUR").value, "470926.57");
        assert_eq!(Amount::from_minor(1234, "JPY").value, "1234");
        assert_eq!(Amount::from_minor(1234, "KWD").value, "1.234");
        assert_eq!(
            Amount::from_minor(i64::MIN, "EUR").value,
            "-92233720368547758.08"
        );
    }
}
