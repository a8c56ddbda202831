//! JSON shapes shared by several resources.

use serde::Serialize;
use utoipa::ToSchema;

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
    /// Renders integer minor units in `currency`'s exponent (2 unless ISO 4217 says otherwise).
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        let exponent = minor_unit_exponent(currency);
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        let value = if exponent == 0 {
            format!("{sign}{abs}")
        } else {
            let scale = 10u64.pow(exponent);
            format!(
                "{sign}{}.{:0width$}",
                abs / scale,
                abs % scale,
                width = exponent as usize
            )
        };
        Self {
            value,
            currency: currency.to_owned(),
        }
    }
}

/// The number of decimals of a currency's minor unit (ISO 4217).
pub fn minor_unit_exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
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
