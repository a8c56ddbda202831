//! Treezor's wire formats: Paris wall-time dates without offset on `/v1`
//! (`"YYYY-MM-DD HH:MM:SS"`), RFC 3339 with the Paris offset on core-connect, and amounts built
//! from decimals without a detour through floating point.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;
use rust_decimal::Decimal;
use serde_json::Value;

/// `"YYYY-MM-DD HH:MM:SS"`, Paris wall time (the `/v1` format).
pub fn v1_date(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// `"YYYY-MM-DD"`, the Paris day.
pub fn day(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris).format("%Y-%m-%d").to_string()
}

/// RFC 3339 with the Paris offset (`2024-02-16T14:37:04+01:00`), the core-connect format.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.with_timezone(&Paris)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Parses a `/v1` date (`YYYY-MM-DD HH:MM:SS`, or a bare `YYYY-MM-DD` meaning its midnight) as
/// Paris wall time.
pub fn parse_v1_date(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    paris(naive)
}

/// Parses an RFC 3339 instant.
///
/// A `+` left unencoded in a query string arrives as a space: read it back as the offset sign.
pub fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_rfc3339(&text.replace(' ', "+")))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A Paris wall time as an instant (the earlier one in the autumn overlap; a time skipped in
/// spring is taken an hour later, as a clock would show it).
pub fn paris(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    Paris
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            Paris
                .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
}

/// An amount as a JSON number with two decimals (`12.5` → `12.50` in the text the number is
/// parsed from; serde_json keeps what it can).
pub fn number(amount: Decimal) -> Value {
    let text = amount.round_dp(2).to_string();
    serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
}

/// An amount as Treezor's string (`"12.30"`).
pub fn text(amount: Decimal) -> String {
    let mut rounded = amount.round_dp(2);
    rounded.rescale(2);
    rounded.to_string()
}

/// An amount sent by a client: a JSON number (read from its text, not as a float) or a string.
pub fn parse_amount(value: &Value) -> Option<Decimal> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .ok()
        .or_else(|| Decimal::from_scientific(&text).ok())
}

/// An id sent by a client: a JSON number or a string of digits (the contract: accept both).
pub fn parse_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_paris_wall_time() {
        let at = Utc.with_ymd_and_hms(2024, 2, 16, 13, 37, 4).single();
        let Some(at) = at else { return };
        assert_eq!(v1_date(at), "2024-02-16 14:37:04");
        assert_eq!(rfc3339(at), "2024-02-16T14:37:04+01:00");
        assert_eq!(parse_v1_date("2024-02-16 14:37:04"), Some(at));
    }

    #[test]
    fn amounts_keep_two_decimals() {
        assert_eq!(text(Decimal::new(123, 1)), "12.30");
        assert_eq!(number(Decimal::new(1250, 2)).to_string(), "12.5");
        assert_eq!(
            parse_amount(&serde_json::json!(12.5)),
            Some(Decimal::new(125, 1))
        );
    }
}
