//! Amounts as integer minor units (cents) and their STET string form.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Formats cents as a STET amount string: `-150.00`, `0.00`, `470926.57`.
pub fn format_minor(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Parses a STET amount string (at most two decimals, EUR) into cents.
pub fn parse_minor(amount: &str) -> Option<i64> {
    let value = Decimal::from_str(amount.trim()).ok()?;
    if value.scale() > 2 {
        return None;
    }
    let cents = value.checked_mul(Decimal::ONE_HUNDRED)?.normalize();
    i64::try_from(cents).ok()
}

/// A 64-bit splitmix step: the sandbox's only randomness for generated data, so the same seed
/// always gives the same history on every machine.
pub fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A tiny deterministic generator over [`splitmix64`].
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = hi.saturating_sub(lo).saturating_add(1).max(1) as u64;
        lo + (self.next_u64() % span) as i64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip() {
        assert_eq!(format_minor(-15000), "-150.00");
        assert_eq!(format_minor(0), "0.00");
        assert_eq!(format_minor(47092657), "470926.57");
        assert_eq!(parse_minor("12.25"), Some(1225));
        assert_eq!(parse_minor("12"), Some(1200));
        assert_eq!(parse_minor("12.255"), None);
        assert_eq!(parse_minor("x"), None);
    }
}
