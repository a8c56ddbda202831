//! Monthly statements as the history where `/core-connect/operations` is not served: that
//! route is not in Treezor's documentation (seed 001), statements are
//! (`GET /core-connect/statements/{walletId}/raw?month&year`, 001:13693-13830, from 02/2022,
//! a per-session read). A statement lists what was booked, without ids: each line becomes an
//! operation whose reference comes from the id its metadata carries (`payoutId`, …), so the
//! same operation read either way is the same transaction.

use chrono::{Datelike, Duration, Months, NaiveDate, Utc};

use super::connector::{TreezorConnector, SESSION_HISTORY_DAYS};
use super::wire;
use crate::bank::{BankError, Connector, DateRange, RawExchange, RetryGate, TokenSource};

/// The first month Treezor makes statements for (seed 001:13702).
fn first_month() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2022, 2, 1)
}

/// The first days of the months `range` touches, in the bank's calendar: from its start (else
/// a session's reach) to its end (else today), never before 02/2022 nor after this month.
pub fn months(range: DateRange, tz: chrono_tz::Tz, now: chrono::DateTime<Utc>) -> Vec<NaiveDate> {
    let today = now.with_timezone(&tz).date_naive();
    let from = range.from.map_or_else(
        || today - Duration::days(i64::from(SESSION_HISTORY_DAYS)),
        |t| t.with_timezone(&tz).date_naive(),
    );
    let to = range
        .to
        .map_or(today, |t| t.with_timezone(&tz).date_naive())
        .min(today);
    let Some(floor) = first_month() else {
        return Vec::new();
    };
    let mut month = from.with_day(1).unwrap_or(from).max(floor);
    let mut out = Vec::new();
    while month <= to {
        out.push(month);
        match month.checked_add_months(Months::new(1)) {
            Some(next) => month = next,
            None => break,
        }
    }
    out
}

impl TreezorConnector {
    /// The booked operations of `wallet` in `range`, read from its monthly statements.
    pub(super) async fn statement_operations(
        &self,
        token: &dyn TokenSource,
        wallet: &str,
        range: DateRange,
        gate: &dyn RetryGate,
        exchanges: &mut Vec<RawExchange>,
    ) -> Result<Vec<wire::Operation>, BankError> {
        const ENDPOINT: &str = "GET /core-connect/statements/{walletId}/raw";
        let tz = self.bank().time_zone;
        let day = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let (from, to) = (range.from.map(day), range.to.map(day));
        let mut out = Vec::new();
        for month in months(range, tz, self.client().now()) {
            let (statement, sent) = self
                .get::<wire::Statement>(
                    ENDPOINT,
                    format!("/core-connect/statements/{wallet}/raw"),
                    vec![
                        ("month", format!("{:02}", month.month())),
                        ("year", month.year().to_string()),
                    ],
                    token,
                    gate,
                )
                .await?;
            exchanges.extend(sent);
            let lines = statement.map(|s| s.operations).unwrap_or_default();
            out.extend(
                lines
                    .into_iter()
                    .filter(|line| {
                        let Ok(on) = NaiveDate::parse_from_str(line.date.trim(), "%Y-%m-%d") else {
                            // Kept: the mapping names the field it cannot read.
                            return true;
                        };
                        from.map_or(true, |f| on >= f) && to.map_or(true, |t| on <= t)
                    })
                    .map(wire::StatementOperation::into_operation),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).single().unwrap()
    }

    #[test]
    fn the_months_a_range_touches_are_read_from_february_2022_to_this_month() {
        let tz = chrono_tz::Europe::Paris;
        let now = at(2026, 12, 3);
        let range = DateRange {
            from: Some(at(2026, 9, 20)),
            to: None,
        };
        let got: Vec<String> = months(range, tz, now)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            got,
            ["2026-09-01", "2026-10-01", "2026-11-01", "2026-12-01"]
        );
        // Nothing before Treezor's first statements.
        let old = DateRange {
            from: Some(at(2021, 11, 1)),
            to: Some(at(2022, 3, 15)),
        };
        let got: Vec<String> = months(old, tz, now).iter().map(|d| d.to_string()).collect();
        assert_eq!(got, ["2022-02-01", "2022-03-01"]);
        // Without a start: a session's reach (365 days).
        let open = DateRange {
            from: None,
            to: None,
        };
        assert_eq!(months(open, tz, now).len(), 13);
    }
}
