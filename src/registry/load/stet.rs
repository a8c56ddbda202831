//! The `[stet]` section: bank code, scopes, balance types, limits and signature rules.

use std::collections::HashSet;

use super::Checker;
use crate::registry::error::RegistryError;
use crate::registry::raw::{RawKeyId, RawSignature, RawStet};
use crate::registry::stet::{
    BalanceType, BankCode, InvalidBankCode, KeyIdFormat, Limits, Scope, SignatureProfile,
    StetProfile,
};

/// Pseudo-headers of draft-cavage signatures.
const PSEUDO_HEADERS: [&str; 3] = ["(request-target)", "(created)", "(expires)"];

impl Checker<'_> {
    /// Checks `[stet]` and builds the STET profile.
    pub(super) fn stet(&self, raw: RawStet) -> Result<StetProfile, RegistryError> {
        let bank_code: BankCode = raw
            .bank_code
            .parse()
            .map_err(|e: InvalidBankCode| self.invalid("stet.bank_code", e.to_string()))?;
        self.non_empty_unique("stet.scopes", &raw.scopes, Scope::as_str)?;
        self.non_empty_unique(
            "stet.balance_types",
            &raw.balance_types,
            BalanceType::as_str,
        )?;
        self.stet_limits(&raw.limits)?;
        let signature = self.stet_signature(&raw.signature)?;
        Ok(StetProfile {
            bank_code,
            protocol_version: raw.version,
            consent_model: raw.consent_model,
            scopes: raw.scopes,
            balance_types: raw.balance_types,
            fallback: raw.fallback,
            pkce: raw.pkce,
            limits: raw.limits,
            signature,
        })
    }

    fn stet_limits(&self, limits: &Limits) -> Result<(), RegistryError> {
        let positive = [
            (
                "stet.limits.history_days_retail",
                limits.history_days_retail,
            ),
            (
                "limits.history_days_corporate",
                limits.history_days_corporate,
            ),
            (
                "limits.max_operations_per_call",
                limits.max_operations_per_call,
            ),
        ];
        for (key, value) in positive {
            self.positive(key, value)?;
        }
        Ok(())
    }

    fn stet_signature(&self, raw: &RawSignature) -> Result<SignatureProfile, RegistryError> {
        let key_id = match (raw.key_id, &raw.cert_url) {
            (RawKeyId::CertUrl, Some(cert_url)) => KeyIdFormat::CertUrl {
                cert_url: self.url("stet.signature.cert_url", cert_url, None)?,
            },
            (RawKeyId::CertUrl, None) => {
                return Err(self.invalid(
                    "stet.signature.cert_url",
                    "required when `key_id = \"cert-url\"`".to_owned(),
                ))
            }
            (_, Some(_)) => {
                return Err(self.invalid(
                    "stet.signature.cert_url",
                    "only allowed with `key_id = \"cert-url\"`".to_owned(),
                ))
            }
            (RawKeyId::ClientId, None) => KeyIdFormat::ClientId,
            (RawKeyId::SnCa, None) => KeyIdFormat::SnCa,
        };
        if raw.headers.is_empty() {
            return Err(self.invalid(
                "stet.signature.headers",
                "must list at least one header".to_owned(),
            ));
        }
        let mut seen = HashSet::new();
        for (key, names) in [
            ("stet.signature.headers", &raw.headers),
            ("stet.signature.psu_headers", &raw.psu_headers),
        ] {
            for name in names {
                let well_formed = PSEUDO_HEADERS.contains(&name.as_str())
                    || (!name.is_empty()
                        && name.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)
                        }));
                if !well_formed {
                    return Err(self.invalid(
                        key,
                        format!("`{name}` is not a lowercase header name or pseudo-header"),
                    ));
                }
                if !seen.insert(name.as_str()) {
                    return Err(self.invalid(key, format!("`{name}` is listed twice")));
                }
            }
        }
        if let Some(name) = raw.psu_headers.iter().find(|n| !n.starts_with("psu-")) {
            return Err(self.invalid(
                "stet.signature.psu_headers",
                format!("`{name}` is not a PSU header (`psu-…`)"),
            ));
        }
        // An always-signed digest with no digest on GET would make every GET fail to sign.
        if raw.headers.iter().any(|h| h == "digest") && !raw.digest_on_get {
            return Err(self.invalid(
                "stet.signature.digest_on_get",
                "must be true when `digest` is in `signature.headers`".to_owned(),
            ));
        }
        Ok(SignatureProfile {
            key_id,
            headers: raw.headers.clone(),
            psu_headers: raw.psu_headers.clone(),
            digest_on_get: raw.digest_on_get,
        })
    }
}
