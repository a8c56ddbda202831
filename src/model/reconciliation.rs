//! What the reconciliation keeps per transaction and per sync: a transaction's stored status,
//! the kind of each change a sync made, and the balance continuity verdict.

use super::stored::stored_enum;

stored_enum! {
    /// A stored transaction's status.
    TransactionState {
        /// Not booked yet (BPCE's `OTHR` too).
        Pending => "pending",
        /// Booked.
        Booked => "booked",
        /// A status nobody knows, kept as the bank said it.
        Other => "other",
        /// Was pending; a later sync whose transactions call covered its date no longer returned
        /// it (e.g. a card pre-authorisation released). Kept, never deleted.
        Cancelled => "cancelled",
    }
}

stored_enum! {
    /// What a sync did to a transaction.
    ChangeKind {
        /// First seen.
        Added => "added",
        /// Pending before, booked now (same Passerelle id).
        Booked => "booked",
        /// Its amount, dates, text or reference changed.
        Modified => "modified",
        /// Pending and no longer returned on a covering call.
        Cancelled => "cancelled",
        /// Cancelled before, returned again.
        Reinstated => "reinstated",
    }
}

stored_enum! {
    /// Whether an account's booked balance moved by exactly what booked since the previous
    /// checked sync.
    ContinuityVerdict {
        /// It did.
        Ok => "ok",
        /// It did not: the difference is kept (a transaction the bank never showed, or one it
        /// dropped). A running balance built from the transactions is off by that much.
        Gap => "gap",
        /// Nothing to compare with: the first sync, or a sync that did not read both the booked
        /// balance and the transactions.
        Unknown => "unknown",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn stored_texts_round_trip() {
        for state in [
            TransactionState::Pending,
            TransactionState::Booked,
            TransactionState::Other,
            TransactionState::Cancelled,
        ] {
            assert_eq!(state.as_str().parse::<TransactionState>().unwrap(), state);
        }
        for kind in [
            ChangeKind::Added,
            ChangeKind::Booked,
            ChangeKind::Modified,
            ChangeKind::Cancelled,
            ChangeKind::Reinstated,
        ] {
            assert_eq!(kind.as_str().parse::<ChangeKind>().unwrap(), kind);
        }
        assert_eq!(
            "gap".parse::<ContinuityVerdict>().unwrap(),
            ContinuityVerdict::Gap
        );
        assert!("PDNG".parse::<TransactionState>().is_err());
    }
}
