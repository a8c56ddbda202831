//! The `[treezor]`, `[contis]` and `[currencycloud]` sections: serde reads them straight into
//! their profiles (`deny_unknown_fields`, so a STET key there is named as unknown); here only
//! their values are checked.

use super::Checker;
use crate::registry::error::RegistryError;
use crate::registry::providers::{
    ContisProfile, CurrencycloudProfile, TreezorProfile, TreezorScope,
};

impl Checker<'_> {
    /// Checks `[treezor]`.
    pub(super) fn treezor(&self, raw: TreezorProfile) -> Result<TreezorProfile, RegistryError> {
        self.non_empty_unique("treezor.scopes", &raw.scopes, TreezorScope::as_str)?;
        self.positive(
            "treezor.sca_declare_within_seconds",
            raw.sca_declare_within_seconds,
        )?;
        Ok(raw)
    }

    /// Checks `[contis]`.
    pub(super) fn contis(&self, raw: ContisProfile) -> Result<ContisProfile, RegistryError> {
        self.positive("contis.two_factor_login_days", raw.two_factor_login_days)?;
        self.positive("contis.sca_poll_seconds", raw.sca_poll_seconds)?;
        Ok(raw)
    }

    /// Checks `[currencycloud]`.
    pub(super) fn currencycloud(
        &self,
        raw: CurrencycloudProfile,
    ) -> Result<CurrencycloudProfile, RegistryError> {
        self.positive("currencycloud.otp_valid_seconds", raw.otp_valid_seconds)?;
        self.positive("currencycloud.otp_max_attempts", raw.otp_max_attempts)?;
        Ok(raw)
    }

    /// A count or duration that must be at least 1.
    pub(super) fn positive(&self, key: &str, value: u32) -> Result<(), RegistryError> {
        if value == 0 {
            return Err(self.invalid(key, "must be at least 1".to_owned()));
        }
        Ok(())
    }
}
