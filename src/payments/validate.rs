//! The checks a payment order passes before anything is recorded or sent: SEPA rules for the
//! IBANs, the amount, the texts and the date. Each failure names the field.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::model::{Currency, Iban, Money};

/// A field that fails a check, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {message}")]
pub struct Invalid {
    /// The body field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

/// IBAN country codes of the SEPA schemes' area (EPC list): the EU and EEA states, then
/// Switzerland, the United Kingdom, San Marino, the Vatican, Monaco, Andorra and Gibraltar,
/// then Albania, Moldova, Montenegro, North Macedonia and Serbia (admitted 2024–2025).
/// Territories such as Guernsey or the French overseas departments use their state's IBANs.
pub const SEPA_COUNTRIES: [&str; 42] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "CH", "GB",
    "SM", "VA", "MC", "AD", "GI", "AL", "MD", "ME", "MK", "RS",
];

/// Longest remittance text a SEPA credit transfer carries (unstructured).
pub const REMITTANCE_MAX_CHARS: usize = 140;
/// Longest ISO 20022 identifier (`Max35Text`).
pub const ID_MAX_CHARS: usize = 35;
/// Longest creditor name (`Max70Text`).
pub const NAME_MAX_CHARS: usize = 70;
/// The largest amount a STET payment request takes (`999999999.99`), in cents.
pub const AMOUNT_MAX_MINOR: i64 = 99_999_999_999;
/// How far ahead a payment may be dated.
pub const MAX_DAYS_AHEAD: i64 = 365;

/// Whether `c` is in the SEPA basic Latin character set (EPC guidelines).
fn sepa_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '-' | '?' | ':' | '(' | ')' | '.' | ',' | '\'' | '+' | ' '
        )
}

/// A valid IBAN of a SEPA country.
pub fn sepa_iban(field: &'static str, raw: &str) -> Result<Iban, Invalid> {
    let iban = Iban::new(raw);
    if !iban.is_valid() {
        return Err(invalid(
            field,
            "not a valid IBAN (structure or mod-97 check digits)",
        ));
    }
    match iban.country() {
        Some(country) if SEPA_COUNTRIES.contains(&country) => Ok(iban),
        _ => Err(invalid(
            field,
            "the IBAN's country is outside the SEPA area",
        )),
    }
}

/// An exact amount: a decimal string with at most the currency's minor digits, above zero.
pub fn amount(raw: &str, currency: &str) -> Result<Money, Invalid> {
    let currency: Currency = currency
        .parse()
        .map_err(|_| invalid("currency", "not an ISO 4217 currency code such as EUR"))?;
    let well_formed = !raw.is_empty()
        && raw.chars().all(|c| c.is_ascii_digit() || c == '.')
        && raw.chars().filter(|c| *c == '.').count() <= 1
        && !raw.starts_with('.')
        && !raw.ends_with('.');
    if !well_formed {
        return Err(invalid(
            "amount",
            "a decimal string such as \"12.50\": digits and at most one point",
        ));
    }
    let decimal: Decimal = raw
        .parse()
        .map_err(|_| invalid("amount", "not a decimal amount"))?;
    let money = Money::from_decimal(decimal, currency).map_err(|_| {
        invalid(
            "amount",
            format!(
                "{} allows at most {} decimals",
                currency.as_str(),
                currency.minor_unit_digits()
            ),
        )
    })?;
    if money.minor <= 0 {
        return Err(invalid("amount", "must be above zero"));
    }
    if money.minor > AMOUNT_MAX_MINOR {
        return Err(invalid("amount", "above what a bank takes in one payment"));
    }
    Ok(money)
}

/// Remittance text: at most 140 characters of the SEPA set.
pub fn remittance(raw: &str) -> Result<String, Invalid> {
    if raw.chars().count() > REMITTANCE_MAX_CHARS {
        return Err(invalid("remittance", "at most 140 characters"));
    }
    if let Some(c) = raw.chars().find(|c| !sepa_char(*c)) {
        return Err(invalid(
            "remittance",
            format!("{c:?} is outside the SEPA character set (a-z, A-Z, 0-9, space and / - ? : ( ) . , ' +)"),
        ));
    }
    Ok(raw.to_owned())
}

/// An end-to-end id: 1 to 35 characters of the SEPA set without space, not starting or ending
/// with `/`, without `//` (EPC rules).
pub fn end_to_end_id(raw: &str) -> Result<String, Invalid> {
    let ok = !raw.is_empty()
        && raw.chars().count() <= ID_MAX_CHARS
        && raw.chars().all(|c| c != ' ' && sepa_char(c))
        && !raw.starts_with('/')
        && !raw.ends_with('/')
        && !raw.contains("//");
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(invalid(
            "end_to_end_id",
            "1 to 35 characters of the SEPA set, no space, not starting or ending with / nor holding //",
        ))
    }
}

/// The creditor's name: 1 to 70 printable characters.
pub fn creditor_name(raw: &str) -> Result<String, Invalid> {
    let trimmed = raw.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > NAME_MAX_CHARS
        || trimmed.chars().any(char::is_control)
    {
        return Err(invalid("creditor_name", "1 to 70 printable characters"));
    }
    Ok(trimmed.to_owned())
}

/// A BIC (ISO 9362): 4 letters (the institution), 2 letters (the country), 2 letters or
/// digits (the location), and optionally 3 more (the branch); uppercased.
pub fn bic(raw: &str) -> Result<String, Invalid> {
    let bic = raw.trim().to_ascii_uppercase();
    let b = bic.as_bytes();
    let shaped = matches!(b.len(), 8 | 11)
        && b[..6].iter().all(u8::is_ascii_uppercase)
        && b[6..].iter().all(u8::is_ascii_alphanumeric);
    if !shaped {
        return Err(invalid(
            "creditor_bic",
            "8 or 11 characters: 6 letters, then letters or digits",
        ));
    }
    Ok(bic)
}

/// A requested execution date: `YYYY-MM-DD`, after `today` (the bank's calendar day) and at
/// most a year ahead.
pub fn execution_date(raw: &str, today: NaiveDate) -> Result<NaiveDate, Invalid> {
    let field = "requested_execution_date";
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| invalid(field, "a date as YYYY-MM-DD"))?;
    if date <= today {
        return Err(invalid(
            field,
            format!("must be after today at the bank ({today}); leave it out to pay now"),
        ));
    }
    if (date - today).num_days() > MAX_DAYS_AHEAD {
        return Err(invalid(field, "at most a year ahead"));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_must_pass_mod_97_and_be_sepa() {
        assert!(sepa_iban("creditor_iban", "FR76 3000 4000 0312 3456 7890 143").is_ok());
        let bad = sepa_iban("creditor_iban", "FR7630004000031234567890144").unwrap_err();
        assert_eq!(bad.field, "creditor_iban");
        // A valid Brazilian IBAN is outside SEPA.
        let far = sepa_iban("creditor_iban", "BR1800360305000010009795493C1").unwrap_err();
        assert!(far.message.contains("SEPA"), "{far}");
    }

    #[test]
    fn amounts_are_exact_and_positive() {
        assert_eq!(amount("12.5", "EUR").unwrap().minor, 1250);
        assert_eq!(amount("0.01", "EUR").unwrap().minor, 1);
        for bad in ["12.345", "-1", "0", "1e3", "", ".5", "5.", "1.2.3", "0.00"] {
            let e = amount(bad, "EUR").unwrap_err();
            assert_eq!(e.field, "amount", "{bad}");
        }
        assert_eq!(amount("1", "E").unwrap_err().field, "currency");
    }

    #[test]
    fn texts_follow_the_sepa_rules() {
        assert!(remittance("Facture 2026/12 - merci").is_ok());
        assert!(remittance(&"a".repeat(141)).is_err());
        assert!(remittance("Café").is_err());
        assert!(end_to_end_id("E2E-42").is_ok());
        assert!(end_to_end_id("/E2E").is_err());
        assert!(end_to_end_id("A//B").is_err());
        assert!(end_to_end_id(&"A".repeat(36)).is_err());
        assert!(creditor_name("  ").is_err());
        assert_eq!(creditor_name(" Marchand SA ").unwrap(), "Marchand SA");
    }

    #[test]
    fn execution_dates_are_in_the_future() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert!(execution_date("2026-12-04", today).is_ok());
        assert!(execution_date("2026-12-03", today).is_err());
        assert!(execution_date("2026-12-02", today).is_err());
        assert!(execution_date("2028-01-01", today).is_err());
        assert!(execution_date("04/12/2026", today).is_err());
    }
}
