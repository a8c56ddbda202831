//! `PASSERELLE_PROVIDER_WEBHOOK_SECRETS`: the secret each provider signs its webhooks with,
//! as `bank_id=secret` pairs separated by commas. A bank without one accepts no webhook.

use std::collections::BTreeMap;

use secrecy::SecretString;

use crate::registry::BankId;

/// The webhook secret of each bank that has one. `Debug` names the banks, never a secret.
#[derive(Clone, Default)]
pub struct ProviderWebhookSecrets(BTreeMap<BankId, SecretString>);

impl ProviderWebhookSecrets {
    /// Parses `bank_id=secret,bank_id=secret`; `Err` says what is wrong without quoting a
    /// secret.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut secrets = BTreeMap::new();
        for (n, pair) in spec.split(',').map(str::trim).enumerate() {
            if pair.is_empty() {
                continue;
            }
            let (bank, secret) = pair
                .split_once('=')
                .ok_or_else(|| format!("pair {} is not bank_id=secret", n + 1))?;
            let bank: BankId = bank
                .trim()
                .parse()
                .map_err(|e| format!("pair {}: {e}", n + 1))?;
            let secret = secret.trim();
            if secret.is_empty() {
                return Err(format!("{bank}: the secret is empty"));
            }
            if secrets.contains_key(&bank) {
                return Err(format!("{bank} is given twice"));
            }
            secrets.insert(bank, SecretString::from(secret.to_owned()));
        }
        Ok(Self(secrets))
    }

    /// The secret of `bank_id`, if it has one.
    pub fn get(&self, bank_id: &str) -> Option<&SecretString> {
        self.0.get(bank_id)
    }

    /// Sets the secret of `bank` (the sandbox's generated one).
    pub fn insert(&mut self, bank: BankId, secret: SecretString) {
        self.0.insert(bank, secret);
    }
}

impl std::fmt::Debug for ProviderWebhookSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k.as_str(), "***")))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn pairs_are_read_and_never_printed() {
        let secrets =
            ProviderWebhookSecrets::parse(" sandbox-treezor=s3cr=t , treezor-prod = other ,")
                .unwrap();
        assert_eq!(
            secrets.get("sandbox-treezor").unwrap().expose_secret(),
            "s3cr=t"
        );
        assert_eq!(
            secrets.get("treezor-prod").unwrap().expose_secret(),
            "other"
        );
        assert!(secrets.get("banque-bcp").is_none());
        let debug = format!("{secrets:?}");
        assert!(
            debug.contains("sandbox-treezor") && !debug.contains("s3cr"),
            "{debug}"
        );
    }

    #[test]
    fn the_setting_is_read_from_the_configuration() {
        let file = std::path::Path::new("test.toml");
        let config = crate::config::Config::from_toml(
            "provider_webhook_secrets = \"sandbox-treezor=abc\"",
            file,
        )
        .unwrap();
        let secret = config.provider_webhook_secrets.get("sandbox-treezor");
        assert_eq!(secret.unwrap().expose_secret(), "abc");
        let e = crate::config::Config::from_toml("provider_webhook_secrets = \"x=\"", file)
            .unwrap_err();
        assert_eq!(e.key, "PASSERELLE_PROVIDER_WEBHOOK_SECRETS");
    }

    #[test]
    fn a_bad_pair_is_named_without_its_secret() {
        for (spec, says) in [
            ("sandbox-treezor", "pair 1 is not bank_id=secret"),
            ("a=1,Bad_Id=hush", "pair 2"),
            ("sandbox-treezor=", "the secret is empty"),
            ("a=hush,a=hush2", "a is given twice"),
        ] {
            let e = ProviderWebhookSecrets::parse(spec).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
            assert!(!e.contains("hush"), "{e}");
        }
    }
}
