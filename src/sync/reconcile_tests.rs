#![allow(clippy::unwrap_used)]

use super::*;

fn d(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

fn at(day: u32) -> NaiveDateTime {
    d(day).and_hms_opt(9, 0, 0).unwrap()
}

/// A fetched row as `rows::transaction_rows` makes it (no id yet).
fn row(fingerprint: &str, status: TransactionState, amount: i64, text: &str) -> TransactionRow {
    TransactionRow {
        id: String::new(),
        account_id: "acc".into(),
        fingerprint: fingerprint.into(),
        amount_minor: amount,
        currency: "EUR".into(),
        status: status.as_str().into(),
        booking_date: None,
        value_date: None,
        transaction_date: None,
        sort_date: d(20),
        description: text.into(),
        bank_transaction_code: None,
        entry_reference: None,
        bank_resource_id: None,
        first_seen_at: at(20),
        updated_at: at(20),
    }
}

fn with_ref(mut r: TransactionRow, reference: &str) -> TransactionRow {
    r.entry_reference = Some(reference.into());
    r.fingerprint = format!("ref:{reference}");
    r
}

fn dated(mut r: TransactionRow, transaction: Option<u32>, booking: Option<u32>) -> TransactionRow {
    r.transaction_date = transaction.map(d);
    r.booking_date = booking.map(d);
    r.sort_date = booking.or(transaction).map_or(r.sort_date, d);
    r
}

/// Stores what a plan inserts or updates, as the sync would.
fn stored_after(mut stored: Vec<TransactionRow>, plan: &Plan) -> Vec<TransactionRow> {
    for step in &plan.steps {
        let after = step.after().clone();
        match stored.iter_mut().find(|r| r.id == after.id) {
            Some(slot) => *slot = after,
            None => stored.push(after),
        }
    }
    stored
}

fn day_one(fetched: Vec<TransactionRow>) -> Vec<TransactionRow> {
    let plan = plan(Vec::new(), fetched, Some(d(1)), at(20));
    assert!(plan
        .steps
        .iter()
        .all(|s| s.change() == Some(ChangeKind::Added)));
    stored_after(Vec::new(), &plan)
}

#[test]
fn a_reference_keeps_the_id_from_pending_to_booked() {
    let pending = dated(
        with_ref(row("", TransactionState::Pending, -350, "CB CAFE"), "R1"),
        Some(19),
        Some(19),
    );
    let stored = day_one(vec![pending]);
    let booked = dated(
        with_ref(row("", TransactionState::Booked, -350, "CB CAFE"), "R1"),
        Some(19),
        Some(21),
    );
    let plan = plan(stored.clone(), vec![booked], Some(d(1)), at(21));
    assert_eq!(plan.steps.len(), 1);
    assert_eq!(plan.steps[0].change(), Some(ChangeKind::Booked));
    assert_eq!(plan.steps[0].after().id, stored[0].id);
    assert_eq!(plan.booked_between(), -350);
}

#[test]
fn a_reference_given_only_at_booking_keeps_the_id() {
    let pending = dated(
        row(
            "fp:a:1",
            TransactionState::Pending,
            -1200,
            "PAYLIB M DUPONT",
        ),
        Some(19),
        Some(19),
    );
    let stored = day_one(vec![pending]);
    let booked = dated(
        with_ref(
            row("", TransactionState::Booked, -1200, "PAYLIB M DUPONT"),
            "1257900092021-11-20-09.33.46.621234",
        ),
        Some(19),
        Some(20),
    );
    let plan = plan(stored.clone(), vec![booked], Some(d(1)), at(21));
    assert_eq!(plan.steps.len(), 1, "{plan:?}");
    let after = plan.steps[0].after();
    assert_eq!(after.id, stored[0].id);
    assert_eq!(after.status, "booked");
    assert_eq!(
        after.entry_reference.as_deref(),
        Some("1257900092021-11-20-09.33.46.621234")
    );
    assert_eq!(plan.steps[0].change(), Some(ChangeKind::Booked));
}

#[test]
fn an_undated_corporate_row_keeps_its_id_and_first_seen_day_when_it_books() {
    // Pending: no reference, no date of its own (sorted on the day first seen).
    let pending = row(
        "fp:b:1",
        TransactionState::Pending,
        -98_000,
        "VIR FOURNISSEUR",
    );
    let stored = day_one(vec![pending]);
    assert_eq!(stored[0].sort_date, d(20));
    // Still pending the next day, still undated: it keeps the day first seen.
    let again = row(
        "fp:b:1",
        TransactionState::Pending,
        -98_000,
        "VIR FOURNISSEUR",
    );
    let mut later = again.clone();
    later.sort_date = d(21);
    let plan_1 = plan(stored.clone(), vec![later], Some(d(1)), at(21));
    assert!(plan_1.steps.is_empty(), "nothing changed: {plan_1:?}");
    // Booked two days later under another fingerprint (its dates came with the booking).
    let mut booked = dated(
        row(
            "fp:c:1",
            TransactionState::Booked,
            -98_000,
            "VIR FOURNISSEUR SARL",
        ),
        None,
        Some(22),
    );
    booked.value_date = Some(d(22));
    let plan_2 = plan(stored.clone(), vec![booked], Some(d(1)), at(22));
    assert_eq!(plan_2.steps.len(), 1, "{plan_2:?}");
    assert_eq!(plan_2.steps[0].after().id, stored[0].id);
    assert_eq!(plan_2.steps[0].change(), Some(ChangeKind::Booked));
    assert_eq!(plan_2.steps[0].after().fingerprint, "fp:c:1");
}

#[test]
fn a_pending_row_no_longer_returned_is_cancelled_only_where_the_call_covered_it() {
    let preauth = dated(
        with_ref(row("", TransactionState::Pending, -5000, "CB TOTAL"), "P1"),
        Some(19),
        Some(19),
    );
    let stored = day_one(vec![preauth]);
    let covered = plan(stored.clone(), Vec::new(), Some(d(10)), at(21));
    assert_eq!(covered.steps.len(), 1);
    assert_eq!(covered.steps[0].change(), Some(ChangeKind::Cancelled));
    assert_eq!(covered.steps[0].after().status, "cancelled");
    assert_eq!(covered.steps[0].after().id, stored[0].id);
    assert_eq!(covered.booked_between(), 0);

    let not_covered = plan(stored.clone(), Vec::new(), Some(d(20)), at(21));
    assert!(not_covered.steps.is_empty(), "dated before the coverage");
    let no_answer = plan(stored.clone(), Vec::new(), None, at(21));
    assert!(no_answer.steps.is_empty(), "an answer that proves nothing");

    // Returned again later: reinstated, same id.
    let cancelled = stored_after(stored, &covered);
    let back = dated(
        with_ref(row("", TransactionState::Pending, -5000, "CB TOTAL"), "P1"),
        Some(19),
        Some(19),
    );
    let plan = plan(cancelled.clone(), vec![back], Some(d(10)), at(22));
    assert_eq!(plan.steps[0].change(), Some(ChangeKind::Reinstated));
    assert_eq!(plan.steps[0].after().id, cancelled[0].id);
}

#[test]
fn two_candidates_pair_deterministically_and_rows_still_returned_never_merge() {
    let a = dated(
        row("fp:x:1", TransactionState::Pending, -700, "CB SNCF"),
        Some(18),
        Some(18),
    );
    let b = dated(
        row("fp:y:1", TransactionState::Pending, -700, "CB SNCF"),
        Some(19),
        Some(19),
    );
    let stored = day_one(vec![a, b]);
    // One books (without a reference when pending, with one now); the other is still pending.
    let booked = dated(
        with_ref(row("", TransactionState::Booked, -700, "CB SNCF"), "B1"),
        Some(19),
        Some(20),
    );
    let still = dated(
        row("fp:x:1", TransactionState::Pending, -700, "CB SNCF"),
        Some(18),
        Some(18),
    );
    let plan_1 = plan(
        stored.clone(),
        vec![booked.clone(), still.clone()],
        Some(d(1)),
        at(21),
    );
    let plan_2 = plan(stored.clone(), vec![still, booked], Some(d(1)), at(21));
    let ids = |p: &Plan| {
        let mut v: Vec<_> = p
            .steps
            .iter()
            .map(|s| (s.after().id.clone(), s.change()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(
        ids(&plan_1),
        ids(&plan_2),
        "the order of the answer does not matter"
    );
    // The booked row took the one pending row the bank stopped returning (y), not x.
    assert_eq!(plan_1.steps.len(), 1, "{plan_1:?}");
    assert_eq!(plan_1.steps[0].after().id, stored[1].id);
    assert_eq!(plan_1.steps[0].change(), Some(ChangeKind::Booked));
}

#[test]
fn different_amounts_or_references_or_far_dates_are_different_transactions() {
    let pending = dated(
        with_ref(row("", TransactionState::Pending, -350, "CB CAFE"), "R1"),
        Some(10),
        Some(10),
    );
    let stored = day_one(vec![pending]);
    let other_ref = dated(
        with_ref(row("", TransactionState::Booked, -350, "CB CAFE"), "R2"),
        Some(10),
        Some(11),
    );
    let p = plan(stored.clone(), vec![other_ref], Some(d(1)), at(21));
    assert_eq!(p.count(ChangeKind::Added), 1);
    assert_eq!(p.count(ChangeKind::Cancelled), 1);

    let no_ref_pending = dated(
        row("fp:z:1", TransactionState::Pending, -350, "CB CAFE"),
        Some(1),
        Some(1),
    );
    let stored = day_one(vec![no_ref_pending]);
    let far = dated(
        row("fp:w:1", TransactionState::Booked, -350, "CB CAFE"),
        Some(15),
        Some(15),
    );
    let other_amount = dated(
        row("fp:v:1", TransactionState::Booked, -351, "CB CAFE"),
        Some(2),
        Some(2),
    );
    let p = plan(stored, vec![far, other_amount], Some(d(1)), at(21));
    assert_eq!(p.count(ChangeKind::Added), 2, "{p:?}");
    assert_eq!(p.count(ChangeKind::Cancelled), 1);
}

#[test]
fn coverage_starts_after_the_oldest_row_of_a_full_answer() {
    let rows: Vec<_> = (10..15)
        .map(|day| {
            dated(
                row(&format!("fp:{day}"), TransactionState::Booked, -1, "X"),
                None,
                Some(day),
            )
        })
        .collect();
    assert_eq!(coverage(Some(d(1)), &rows, Some(500)), Some(d(1)));
    assert_eq!(coverage(Some(d(1)), &rows, Some(5)), Some(d(11)));
    assert_eq!(coverage(Some(d(1)), &rows, None), Some(d(1)));
    assert_eq!(coverage(None, &[], Some(5)), None);
}

#[test]
fn ids_are_derived_so_a_replay_gives_the_same_ones() {
    let a = transaction_id("acc", "ref:R1", at(20));
    assert_eq!(a, transaction_id("acc", "ref:R1", at(20)));
    assert_ne!(a, transaction_id("acc", "ref:R1", at(21)));
    assert_ne!(a, transaction_id("acc2", "ref:R1", at(20)));
    assert!(uuid::Uuid::parse_str(&a).is_ok());
}

#[test]
fn an_amount_change_of_a_booked_row_counts_in_what_booked() {
    let booked = dated(
        with_ref(row("", TransactionState::Booked, -1000, "CB FNAC"), "R9"),
        Some(10),
        Some(10),
    );
    let stored = day_one(vec![booked.clone()]);
    let mut changed = booked;
    changed.amount_minor = -1100;
    let p = plan(stored, vec![changed], Some(d(1)), at(21));
    assert_eq!(p.steps[0].change(), Some(ChangeKind::Modified));
    assert_eq!(p.booked_between(), -100);
}

#[test]
fn texts_are_compatible_when_a_merchant_is_shared() {
    assert!(compatible_text("CB CARREFOUR 12/11", "CARREFOUR MARKET"));
    assert!(compatible_text("PAYLIB M. DUPONT", "PAYLIB M DUPONT"));
    assert!(compatible_text("", "ANYTHING"));
    assert!(!compatible_text("CB FNAC 12/11", "PRLV EDF"));
    assert!(
        !compatible_text("CB 1234 12/11", "RETRAIT 1234"),
        "numbers are no merchant"
    );
}
