//! The demo's balance-over-time chart: a small inline SVG computed on the server, so the page
//! needs no JavaScript and no external asset.
//!
//! Money stays exact: balances are `rust_decimal::Decimal` parsed from the API's decimal strings,
//! and the series is derived in `Decimal`. Only the pixel coordinates go through `f64`, which is
//! fine for placing a point on a 320-pixel-wide drawing and never used for an amount shown.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// Drawing width, in SVG user units.
pub const WIDTH: u32 = 320;
/// Drawing height, in SVG user units.
pub const HEIGHT: u32 = 90;
/// Blank margin around the line.
const PAD: f64 = 6.0;

/// One day's balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The bank calendar day.
    pub day: NaiveDate,
    /// The balance at the end of that day.
    pub amount: Decimal,
}

/// The daily series, oldest first. Snapshots (`history`: the API's daily balances of one type)
/// are authoritative. A newly connected account has a single snapshot, which would draw a lone
/// dot, so the days before the oldest snapshot are derived from the booked transactions: the
/// balance at the end of the day before `d` is the balance at the end of `d` minus what booked
/// on `d`.
pub fn series(history: &[(NaiveDate, Decimal)], booked: &[(NaiveDate, Decimal)]) -> Vec<Point> {
    let mut days: BTreeMap<NaiveDate, Decimal> = history.iter().copied().collect();
    let Some((&oldest, &oldest_balance)) = days.iter().next() else {
        return Vec::new();
    };
    let mut moves: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
    for (day, amount) in booked.iter().filter(|(day, _)| *day <= oldest) {
        *moves.entry(*day).or_default() += *amount;
    }
    let mut running = oldest_balance;
    for (day, moved) in moves.iter().rev() {
        running -= *moved;
        days.entry(*day - Duration::days(1)).or_insert(running);
    }
    days.into_iter()
        .map(|(day, amount)| Point { day, amount })
        .collect()
}

/// What the template draws.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `x,y x,y …` for the `<polyline>`.
    pub points: String,
    /// The last point, drawn as a dot.
    pub last: (String, String),
    /// The height of the zero line, when zero is within the range.
    pub zero_y: Option<String>,
    /// The lowest balance, exact.
    pub min: String,
    /// The highest balance, exact.
    pub max: String,
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

/// Lays the series out in a `WIDTH` × `HEIGHT` box; `None` when there is nothing to draw.
pub fn layout(series: &[Point]) -> Option<Chart> {
    let first = series.first()?;
    let last = series.last()?;
    let min = series.iter().map(|p| p.amount).min()?;
    let max = series.iter().map(|p| p.amount).max()?;
    // Pixel positions only: f64 is never used for an amount shown to anyone.
    let span_days = (last.day - first.day).num_days().max(1) as f64;
    let span_amount = (max - min).to_f64().unwrap_or(0.0);
    let (w, h) = (f64::from(WIDTH) - 2.0 * PAD, f64::from(HEIGHT) - 2.0 * PAD);
    let y_of = |amount: Decimal| {
        if span_amount <= 0.0 {
            return PAD + h / 2.0;
        }
        let above_min = (amount - min).to_f64().unwrap_or(0.0);
        PAD + h - above_min / span_amount * h
    };
    let x_of = |day: NaiveDate| {
        if series.len() == 1 {
            return PAD + w;
        }
        PAD + (day - first.day).num_days() as f64 / span_days * w
    };
    let points = series
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.day), y_of(p.amount)))
        .collect::<Vec<_>>()
        .join(" ");
    let zero_y =
        (min < Decimal::ZERO && max > Decimal::ZERO).then(|| format!("{:.1}", y_of(Decimal::ZERO)));
    Some(Chart {
        points,
        last: (
            format!("{:.1}", x_of(last.day)),
            format!("{:.1}", y_of(last.amount)),
        ),
        zero_y,
        min: min.to_string(),
        max: max.to_string(),
        from: first.day,
        to: last.day,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, d).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn days_before_the_oldest_snapshot_come_from_booked_transactions() {
        let history = [(day(10), dec("-150.00"))];
        let booked = [
            (day(10), dec("-20.00")),
            (day(10), dec("-30.00")),
            (day(7), dec("100.00")),
            // After the snapshot: already in it, ignored.
            (day(11), dec("5.00")),
        ];
        assert_eq!(
            series(&history, &booked),
            vec![
                Point {
                    day: day(6),
                    amount: dec("-200.00")
                },
                Point {
                    day: day(9),
                    amount: dec("-100.00")
                },
                Point {
                    day: day(10),
                    amount: dec("-150.00")
                },
            ]
        );
    }

    #[test]
    fn snapshots_win_over_derived_days() {
        let history = [(day(10), dec("10.00")), (day(9), dec("7.00"))];
        let booked = [(day(10), dec("1.00"))];
        let s = series(&history, &booked);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].amount, dec("7.00"));
    }

    #[test]
    fn layout_keeps_exact_labels_and_draws_a_zero_line() {
        let s = series(&[(day(10), dec("-150.00"))], &[(day(5), dec("-200.10"))]);
        let chart = layout(&s).unwrap();
        assert_eq!(chart.min, "-150.00");
        assert_eq!(chart.max, "50.10");
        assert!(chart.zero_y.is_some());
        assert_eq!(chart.points.split(' ').count(), 2);
        assert!(layout(&[]).is_none());
        let flat = layout(&series(&[(day(1), dec("0.00"))], &[])).unwrap();
        assert_eq!(flat.points, "314.0,45.0");
    }
}
