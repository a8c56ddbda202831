//! The lenient scalar types of the STET wire: amounts, dates and remittance information.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most integer digits of a STET amount (`^\-{0,1}[0-9]{1,13}(\.[0-9]{0,5}){0,1}$`).
const MAX_INTEGER_DIGITS: usize = 13;
/// Most decimals of a STET amount.
const MAX_DECIMALS: usize = 5;

/// A STET amount: a decimal with at most 13 integer digits and 5 decimals, read from a string
/// (the schema) or a JSON number (some banks), written as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount(pub Decimal);

/// Text that is not a STET amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a STET amount (up to 13 digits, optional `-`, up to 5 decimals)")]
pub struct InvalidAmount(pub String);

impl FromStr for Amount {
    type Err = InvalidAmount;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAmount(s.to_owned());
        let unsigned = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let well_formed = (1..=MAX_INTEGER_DIGITS).contains(&int.len())
            && frac.len() <= MAX_DECIMALS
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(invalid());
        }
        // "12." is allowed by the pattern; Decimal wants digits after the point.
        let text = s.strip_suffix('.').unwrap_or(s);
        Decimal::from_str(text).map(Self).map_err(|_| invalid())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AmountVisitor;
        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a string or a number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                // Rust prints the shortest text that reads back as the same f64, which is the
                // decimal the bank wrote (12.25 -> "12.25"); the amount never stays a float.
                if !v.is_finite() {
                    return Err(E::custom("the amount is not a finite number"));
                }
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(AmountVisitor)
    }
}

/// A STET date or date-time, as banks really send it: `2022-08-25`,
/// `2022-08-25T00:00:00+0200`, `2018-03-30T16:06:27.499+0000`, `…Z`, `…+02:00`, or without
/// offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StetDate {
    /// A calendar date.
    Date(NaiveDate),
    /// A date-time with an offset.
    DateTime(DateTime<FixedOffset>),
    /// A date-time without offset: the bank's local time.
    Local(NaiveDateTime),
}

/// Text that is not a date nor a date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date (YYYY-MM-DD) nor a date-time")]
pub struct InvalidDate(pub String);

impl FromStr for StetDate {
    type Err = InvalidDate;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(fast) = parse_common(s.as_bytes()) {
            return Ok(fast);
        }
        if s.len() == 10 {
            return NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Self::Date)
                .map_err(|_| InvalidDate(s.to_owned()));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::DateTime(dt));
        }
        // `%z` reads `+0200` as well as `+02:00`.
        if let Ok(dt) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
            return Ok(Self::DateTime(dt));
        }
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .map(Self::Local)
            .map_err(|_| InvalidDate(s.to_owned()))
    }
}

/// Digits at `b[range]` as a number, if all are ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// The shapes banks actually send, parsed by hand because chrono's format-string parser
/// dominates the cost of a transactions page: `YYYY-MM-DD`, and
/// `YYYY-MM-DDTHH:MM:SS[.fff]` followed by `Z`, `±HHMM` or `±HH:MM`. Anything else goes to
/// the general parsers.
fn parse_common(b: &[u8]) -> Option<StetDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(digits(&b[0..4])?).ok()?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
    )?;
    if b.len() == 10 {
        return Some(StetDate::Date(date));
    }
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&tail[..n])? * 10u32.pow(9 - u32::try_from(n).ok()?);
        rest = &tail[n..];
    }
    let local = date.and_hms_nano_opt(h, m, sec, nanos)?;
    let offset_secs = match rest {
        [] => return Some(StetDate::Local(local)),
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), hh @ ..] if hh.len() == 4 || (hh.len() == 5 && hh[2] == b':') => {
            let oh = digits(&hh[0..2])?;
            let om = digits(&hh[hh.len() - 2..])?;
            let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let offset = FixedOffset::east_opt(offset_secs)?;
    offset
        .from_local_datetime(&local)
        .single()
        .map(StetDate::DateTime)
}

impl StetDate {
    /// The calendar day in the bank's time zone: `2022-08-25T00:00:00+0200` is the 25th in
    /// Paris, although it is the 24th in UTC.
    pub fn calendar_day(&self, bank_tz: Tz) -> NaiveDate {
        match self {
            Self::Date(d) => *d,
            Self::DateTime(dt) => {
                // Not `with_timezone(..).date_naive()`: it panics when the local time falls
                // outside chrono's range, as a bank's `+262142-12-31T23:30:00Z` does in Paris.
                // That far out the UTC day is as good an answer as any.
                let utc = dt.naive_utc();
                let offset = bank_tz.offset_from_utc_datetime(&utc).fix();
                utc.checked_add_offset(offset).unwrap_or(utc).date()
            }
            Self::Local(naive) => naive.date(),
        }
    }

    /// The instant in UTC; a bare date is its local midnight, a local time is read in the
    /// bank's time zone (the earlier instant when ambiguous).
    pub fn instant(&self, bank_tz: Tz) -> Option<DateTime<Utc>> {
        let local = match self {
            Self::DateTime(dt) => return Some(dt.with_timezone(&Utc)),
            Self::Date(d) => d.and_hms_opt(0, 0, 0)?,
            Self::Local(naive) => *naive,
        };
        bank_tz
            .from_local_datetime(&local)
            .earliest()
            .map(|dt| dt.with_timezone(&Utc))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_general_parsers_agree() {
        for text in [
            "2022-08-25",
            "2022-08-25T00:00:00+0200",
            "2022-08-25T00:00:00+02:00",
            "2018-03-30T16:06:27.499+0000",
            "2018-02-13T09:30:00Z",
            "2018-02-13T09:30:00.123456-0530",
            "2018-02-13T09:30:00",
        ] {
            let fast = parse_common(text.as_bytes()).unwrap();
            let general = if text.len() == 10 {
                StetDate::Date(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
            } else if let Ok(dt) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
                StetDate::DateTime(dt)
            } else if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
                StetDate::DateTime(dt)
            } else {
                StetDate::Local(
                    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").unwrap(),
                )
            };
            assert_eq!(fast, general, "{text}");
            if let (StetDate::DateTime(a), StetDate::DateTime(b)) = (fast, general) {
                assert_eq!(a.offset(), b.offset(), "{text}");
            }
        }
        assert!("2022-13-01".parse::<StetDate>().is_err());
        assert!("25/08/2022".parse::<StetDate>().is_err());
    }

    #[test]
    fn calendar_day_at_the_ends_of_chrono_range_is_the_utc_day() {
        // Paris is ahead of UTC, New York behind: their local times fall outside the range.
        let last = format!("{}T23:30:00+00:00", NaiveDate::MAX.format("%Y-%m-%d"));
        let last: StetDate = last.parse().unwrap();
        assert_eq!(last.calendar_day(chrono_tz::Europe::Paris), NaiveDate::MAX);
        let first = format!("{}T00:10:00+00:00", NaiveDate::MIN.format("%Y-%m-%d"));
        let first: StetDate = first.parse().unwrap();
        assert_eq!(
            first.calendar_day(chrono_tz::America::New_York),
            NaiveDate::MIN
        );
        // Within range the bank's day still wins over the UTC one.
        let late: StetDate = "2022-08-24T22:30:00Z".parse().unwrap();
        assert_eq!(
            late.calendar_day(chrono_tz::Europe::Paris),
            NaiveDate::from_ymd_opt(2022, 8, 25).unwrap()
        );
    }
}

impl fmt::Display for StetDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::DateTime(dt) => f.write_str(&dt.to_rfc3339()),
            Self::Local(naive) => write!(f, "{}", naive.format("%Y-%m-%dT%H:%M:%S%.f")),
        }
    }
}

impl Serialize for StetDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StetDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl Visitor<'_> for DateVisitor {
            type Value = StetDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date or date-time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StetDate, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(DateVisitor)
    }
}

/// `remittanceInformation`: STET 1.4.0.47 sends an array of strings; 1.4.2 deployments (BPCE,
/// BNPPF) send `{"unstructured": […]}`. The shape received is kept so it serializes back the
/// same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemittanceInformation {
    /// `["…"]`.
    Lines(Vec<String>),
    /// `{"unstructured": ["…"]}` (other members, such as `structured`, are ignored).
    Object {
        /// The unstructured lines.
        unstructured: Vec<String>,
    },
}

impl RemittanceInformation {
    /// The unstructured lines, whatever the shape.
    pub fn lines(&self) -> &[String] {
        match self {
            Self::Lines(lines)
            | Self::Object {
                unstructured: lines,
            } => lines,
        }
    }
}

impl Serialize for RemittanceInformation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Lines(lines) => lines.serialize(s),
            Self::Object { unstructured } => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("unstructured", unstructured)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for RemittanceInformation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RemittanceVisitor;
        impl<'de> Visitor<'de> for RemittanceVisitor {
            type Value = RemittanceInformation;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of strings or an object with `unstructured`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut lines = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(line) = seq.next_element::<String>()? {
                    lines.push(line);
                }
                Ok(RemittanceInformation::Lines(lines))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut unstructured = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "unstructured" {
                        unstructured = map.next_value()?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(RemittanceInformation::Object { unstructured })
            }
        }
        d.deserialize_any(RemittanceVisitor)
    }
}
