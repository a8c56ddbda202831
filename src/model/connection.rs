//! A connection's status: one user's access to one provider.

use super::stored::stored_enum;

stored_enum! {
    /// Where a connection stands (the store keeps it as one of these strings).
    ConnectionStatus {
        /// Created; the user has not finished the bank journey.
        Pending => "pending",
        /// Consented; synced.
        Active => "active",
        /// The consent ended or the bank refused the tokens: send the user through `reauthorize`.
        ReauthRequired => "reauth_required",
        /// Revoked through the API.
        Revoked => "revoked",
        /// The journey failed; `error` says why.
        Error => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_an_unknown_one_is_named() {
        for status in [
            ConnectionStatus::Pending,
            ConnectionStatus::Active,
            ConnectionStatus::ReauthRequired,
            ConnectionStatus::Revoked,
            ConnectionStatus::Error,
        ] {
            assert_eq!(status.as_str().parse::<ConnectionStatus>(), Ok(status));
        }
        let err = "paused".parse::<ConnectionStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown ConnectionStatus `paused`");
    }
}
