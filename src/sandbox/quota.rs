//! The portal's batch limit: without `PSU-IP-Address`, at most four calls per calendar day
//! (Europe/Paris) for the same TPP, bank, PSU, IBAN and AIS method; the fifth answers 429. With
//! `PSU-IP-Address` (the PSU is present) calls are unlimited and not counted.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Paris;

use super::error::StetError;

/// Calls allowed per day and key without the PSU.
pub const BATCH_CALLS_PER_DAY: u32 = 4;

/// What one counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QuotaKey {
    /// The TPP.
    pub client_id: String,
    /// The bank (codetab).
    pub bank: String,
    /// The PSU.
    pub psu: String,
    /// The account's IBAN (empty for calls not about one account).
    pub iban: String,
    /// The AIS method (`accounts`, `balances`, `transactions`, `end-user-identity`).
    pub method: &'static str,
}

/// The counters, per key and Paris calendar day.
#[derive(Debug, Default)]
pub struct QuotaLedger {
    counts: HashMap<(QuotaKey, NaiveDate), u32>,
}

impl QuotaLedger {
    /// Counts one unattended call at `now`; the fifth and later of the day are refused.
    pub fn charge(&mut self, key: QuotaKey, now: DateTime<Utc>) -> Result<(), StetError> {
        let day = now.with_timezone(&Paris).date_naive();
        // Yesterday's counters are dead weight.
        self.counts.retain(|(_, d), _| *d >= day);
        let count = self.counts.entry((key, day)).or_insert(0);
        if *count >= BATCH_CALLS_PER_DAY {
            return Err(StetError::TooManyRequests(format!(
                "batch limit reached: {BATCH_CALLS_PER_DAY} calls per day without PSU-IP-Address"
            )));
        }
        *count += 1;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn key(method: &'static str) -> QuotaKey {
        QuotaKey {
            client_id: "PSDFR-ACPR-99999".into(),
            bank: "12579".into(),
            psu: "LEA".into(),
            iban: "FR76".into(),
            method,
        }
    }

    #[test]
    fn the_day_is_the_paris_calendar_day() {
        let mut ledger = QuotaLedger::default();
        // 22:30 UTC in summer is 00:30 the next day in Paris.
        let before = Utc.with_ymd_and_hms(2024, 7, 1, 21, 30, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2024, 7, 1, 22, 30, 0).unwrap();
        for _ in 0..4 {
            ledger.charge(key("balances"), before).unwrap();
        }
        assert!(ledger.charge(key("balances"), before).is_err());
        ledger.charge(key("balances"), after).unwrap();
    }
}
