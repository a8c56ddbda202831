//! What a provider allows without the user: how recent an SCA must be for each action
//! ([`ScaFreshnessPolicy`]), and how many unattended calls it accepts ([`UnattendedAccessPolicy`]).
//! Both are data that each connector states; the services ask before calling, so a call the
//! rules forbid is never sent.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::model::ScaAction;

/// How recent the user's SCA must be for one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Any SCA younger than this.
    Within(Duration),
    /// A new SCA for every such action (e.g. each payment).
    EveryTime,
}

/// What the policy says of one action at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreshnessVerdict {
    /// The last SCA covers it: call the provider.
    Fresh,
    /// The user must authenticate first: return a challenge, do not call.
    ScaRequired,
}

/// A provider's SCA freshness rules, one per action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaFreshnessPolicy {
    rules: Vec<(ScaAction, Freshness)>,
}

impl ScaFreshnessPolicy {
    /// A policy from its rules; an action without a rule needs an SCA every time (the safe
    /// default for an action nobody thought of).
    pub fn new(rules: impl IntoIterator<Item = (ScaAction, Freshness)>) -> Self {
        Self {
            rules: rules.into_iter().collect(),
        }
    }

    /// The rule for `action`.
    pub fn rule(&self, action: ScaAction) -> Freshness {
        self.rules
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(Freshness::EveryTime, |(_, f)| *f)
    }

    /// Whether `action` may go ahead at `now` given the last SCA (none: never authenticated).
    pub fn check(
        &self,
        action: ScaAction,
        last_sca_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> FreshnessVerdict {
        match (self.rule(action), last_sca_at) {
            (Freshness::Within(age), Some(at)) if now.signed_duration_since(at) < age => {
                FreshnessVerdict::Fresh
            }
            _ => FreshnessVerdict::ScaRequired,
        }
    }
}

/// What one unattended call is counted under (STET: per TPP, bank endpoint, PSU, account and
/// AIS method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnattendedMethod {
    /// The list of accounts.
    Accounts,
    /// An account's balances.
    Balances,
    /// An account's transactions.
    Transactions,
}

impl UnattendedMethod {
    /// The ledger's name for the method.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::Balances => "balances",
            Self::Transactions => "transactions",
        }
    }
}

/// How many calls a provider accepts without the user present, and how it counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnattendedAccessPolicy {
    /// Calls per key and calendar day; `None`: the provider sets no such limit.
    pub calls_per_day: Option<u32>,
    /// The time zone of the provider's calendar day.
    pub time_zone: Tz,
    /// Whether the list of accounts counts (per PSU: its key has no account).
    pub counts_account_list: bool,
}

impl UnattendedAccessPolicy {
    /// The provider's calendar day of `at`.
    pub fn day(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// Whether an unattended call of `method` is counted at all.
    pub fn counts(&self, method: UnattendedMethod) -> bool {
        self.calls_per_day.is_some()
            && (method != UnattendedMethod::Accounts || self.counts_account_list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::days(days)
    }

    #[test]
    fn an_sca_covers_reads_until_its_age_and_never_payments() {
        let policy = ScaFreshnessPolicy::new([
            (ScaAction::Balances, Freshness::Within(Duration::days(180))),
            (ScaAction::ThirdPartyPayment, Freshness::EveryTime),
        ]);
        let sca = Some(at(0));
        assert_eq!(
            policy.check(ScaAction::Balances, sca, at(179)),
            FreshnessVerdict::Fresh
        );
        assert_eq!(
            policy.check(ScaAction::Balances, sca, at(180)),
            FreshnessVerdict::ScaRequired
        );
        assert_eq!(
            policy.check(ScaAction::Balances, None, at(0)),
            FreshnessVerdict::ScaRequired
        );
        assert_eq!(
            policy.check(ScaAction::ThirdPartyPayment, sca, at(0)),
            FreshnessVerdict::ScaRequired
        );
        // No rule: every time.
        assert_eq!(
            policy.check(ScaAction::OlderHistory, sca, at(0)),
            FreshnessVerdict::ScaRequired
        );
    }

    #[test]
    fn the_calendar_day_is_the_providers() {
        let policy = UnattendedAccessPolicy {
            calls_per_day: Some(4),
            time_zone: chrono_tz::Europe::Paris,
            counts_account_list: false,
        };
        // 23:30 UTC on 1 May is 1:30 on 2 May in Paris.
        let late = DateTime::parse_from_rfc3339("2024-05-01T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            policy.day(late),
            NaiveDate::from_ymd_opt(2024, 5, 2).unwrap()
        );
        assert!(policy.counts(UnattendedMethod::Balances));
        assert!(!policy.counts(UnattendedMethod::Accounts));
    }
}
