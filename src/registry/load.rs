//! Reading registry files and turning them into validated [`Bank`] profiles.
//!
//! Parsing is two steps: serde maps the TOML onto `Raw*` structs that mirror the file
//! (`deny_unknown_fields` everywhere, so a typo is an error rather than a silently ignored
//! key), then `build` checks every value and produces the typed profile.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::hash::Hash;
use std::path::{Path, PathBuf};

use chrono::Weekday;
use chrono_tz::Tz;
use url::Url;

use super::error::RegistryError;
use super::profile::{
    BalanceType, Bank, BankCode, BankEndpoints, BankId, Endpoints, KeyIdFormat, Limits,
    MaintenanceWindow, Scope, SignatureProfile, MINUTES_PER_DAY,
};

use super::raw::{RawEndpoints, RawEndpointsTable, RawKeyId, RawProfile, RawSignature, RawWindow};
use super::SandboxHosts;

/// Stands for the sandbox's API `host:port` (mutual TLS) in sandbox profile URLs.
pub(crate) const SANDBOX_PLACEHOLDER: &str = "{sandbox}";

/// Stands for the sandbox's `host:port` for browser pages (plain server TLS) in sandbox profile
/// URLs: a browser cannot present a QWAC, so the login page lives on its own listener, as a real
/// bank's authorization server does.
pub(crate) const SANDBOX_WEB_PLACEHOLDER: &str = "{sandbox_web}";

/// Used to validate sandbox profiles when the sandbox is off, so a broken built-in sandbox
/// file is caught whatever the configuration.
const STAND_IN_SANDBOX: SandboxHosts<'static> = SandboxHosts {
    api: "127.0.0.1:8443",
    web: "127.0.0.1:8444",
};

/// Pseudo-headers of draft-cavage signatures.
const PSEUDO_HEADERS: [&str; 3] = ["(request-target)", "(created)", "(expires)"];

/// Where a profile file comes from.
#[derive(Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// Embedded at build time; has no folder on disk.
    Builtin,
    /// An extra registry folder.
    Folder(&'a Path),
}

/// The id a profile was first seen with, whether or not it was kept.
struct Seen {
    file: String,
    builtin: bool,
}

/// Loads the built-in profiles, then every `*.toml` of each extra folder in order.
///
/// Sandbox profiles are validated in all cases but only kept when `sandbox_listen` is set.
pub(crate) fn load_all(
    builtin: &[(&str, &str)],
    extra_dirs: &[PathBuf],
    sandbox_listen: Option<SandboxHosts<'_>>,
) -> Result<BTreeMap<BankId, Bank>, RegistryError> {
    if let Some(hosts) = sandbox_listen {
        check_sandbox_listen(hosts.api)?;
        check_sandbox_listen(hosts.web)?;
    }
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut banks = BTreeMap::new();

    let mut add = |bank: Bank, kept: bool, builtin: bool| -> Result<(), RegistryError> {
        let id = bank.id.to_string();
        if let Some(first) = seen.get(&id) {
            return Err(if first.builtin && !builtin {
                RegistryError::BuiltinId {
                    file: bank.source,
                    id,
                    builtin: first.file.clone(),
                }
            } else {
                RegistryError::DuplicateId {
                    file: bank.source,
                    id,
                    other: first.file.clone(),
                }
            });
        }
        seen.insert(
            id,
            Seen {
                file: bank.source.clone(),
                builtin,
            },
        );
        if kept {
            banks.insert(bank.id.clone(), bank);
        }
        Ok(())
    };

    for (file, text) in builtin {
        let bank = build(file, text, Origin::Builtin, sandbox_listen)?;
        let kept = !bank.sandbox || sandbox_listen.is_some();
        add(bank, kept, true)?;
    }
    for dir in extra_dirs {
        for path in profile_files(dir)? {
            let file = path.display().to_string();
            let text = fs::read_to_string(&path).map_err(|e| RegistryError::ReadFile {
                file: file.clone(),
                reason: e.to_string(),
            })?;
            let bank = build(&file, &text, Origin::Folder(dir), sandbox_listen)?;
            let kept = !bank.sandbox || sandbox_listen.is_some();
            add(bank, kept, false)?;
        }
    }
    Ok(banks)
}

/// The `*.toml` files directly inside `dir`, sorted so errors and ids are deterministic.
fn profile_files(dir: &Path) -> Result<Vec<PathBuf>, RegistryError> {
    let read_dir_error = |e: std::io::Error| RegistryError::ReadDir {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_dir_error)? {
        let path = entry.map_err(read_dir_error)?.path();
        // Anything not a folder is read, so a dangling symlink is reported, not skipped.
        if path.extension().is_some_and(|e| e == "toml") && !path.is_dir() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn check_sandbox_listen(addr: &str) -> Result<(), RegistryError> {
    let fail = |reason: &str| RegistryError::SandboxListen {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    // Only host and port characters: anything else would change the URL's structure.
    let plain = !addr.is_empty()
        && addr
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !plain {
        return Err(fail("expected host:port, e.g. 127.0.0.1:8443"));
    }
    let url = Url::parse(&format!("https://{addr}/")).map_err(|e| fail(&e.to_string()))?;
    if url.host_str().map_or(true, str::is_empty) {
        return Err(fail("no host"));
    }
    Ok(())
}

/// Parses and validates one profile file. `file` names it in errors.
pub(crate) fn build(
    file: &str,
    text: &str,
    origin: Origin<'_>,
    sandbox_listen: Option<SandboxHosts<'_>>,
) -> Result<Bank, RegistryError> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| RegistryError::Parse {
        file: file.to_owned(),
        line: e.span().map(|span| line_of(text, span.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let check = Checker { file };

    let id: BankId = raw
        .id
        .parse()
        .map_err(|e: super::profile::InvalidBankId| check.invalid("id", e.to_string()))?;
    let stem = Path::new(file).file_stem().and_then(|s| s.to_str());
    if stem != Some(id.as_str()) {
        return Err(check.invalid(
            "id",
            format!(
                "`{id}` must equal the file name without `.toml` (`{}`)",
                stem.unwrap_or_default()
            ),
        ));
    }
    check.not_blank("name", &raw.name)?;
    check.not_blank("brand", &raw.brand)?;
    let bank_code: BankCode = raw
        .bank_code
        .parse()
        .map_err(|e: super::profile::InvalidBankCode| check.invalid("bank_code", e.to_string()))?;
    if !(raw.country.len() == 2 && raw.country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(check.invalid(
            "country",
            format!(
                "`{}` is not an ISO 3166-1 alpha-2 code such as `FR`",
                raw.country
            ),
        ));
    }
    check.non_empty_unique("scopes", &raw.scopes, Scope::as_str)?;
    check.non_empty_unique("balance_types", &raw.balance_types, BalanceType::as_str)?;
    let time_zone: Tz = raw.time_zone.parse().map_err(|_| {
        check.invalid(
            "time_zone",
            format!(
                "`{}` is not an IANA time zone such as `Europe/Paris`",
                raw.time_zone
            ),
        )
    })?;

    let endpoints = check.endpoints(&raw.endpoints, raw.sandbox, sandbox_listen)?;
    check.limits(&raw.limits)?;
    let signature = check.signature(&raw.signature)?;
    let maintenance = raw
        .maintenance
        .iter()
        .enumerate()
        .map(|(i, w)| check.window(i, w))
        .collect::<Result<Vec<_>, _>>()?;
    let extra_ca_pem = match (&raw.extra_ca_pem, origin) {
        (None, _) => None,
        (Some(_), Origin::Builtin) => {
            return Err(check.invalid(
                "extra_ca_pem",
                "built-in profiles cannot reference files: the binary runs without the source \
                 tree; put the profile in an extra registry folder instead"
                    .to_owned(),
            ))
        }
        (Some(rel), Origin::Folder(dir)) => {
            // Relative to the profile's folder so a folder can ship with its CA files.
            let path = dir.join(rel);
            if !path.is_file() {
                return Err(check.invalid(
                    "extra_ca_pem",
                    format!("`{}` is not a readable file", path.display()),
                ));
            }
            Some(path)
        }
    };

    Ok(Bank {
        id,
        name: raw.name,
        brand: raw.brand,
        bank_code,
        country: raw.country,
        protocol: raw.protocol,
        protocol_version: raw.protocol_version,
        consent_model: raw.consent_model,
        scopes: raw.scopes,
        balance_types: raw.balance_types,
        time_zone,
        sandbox: raw.sandbox,
        fallback: raw.fallback,
        pkce: raw.pkce,
        endpoints,
        limits: raw.limits,
        signature,
        maintenance,
        extra_ca_pem,
        source: file.to_owned(),
    })
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Builds errors that name the file being checked.
struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn invalid(&self, key: &str, reason: String) -> RegistryError {
        RegistryError::Invalid {
            file: self.file.to_owned(),
            key: key.to_owned(),
            reason,
        }
    }

    fn not_blank(&self, key: &str, value: &str) -> Result<(), RegistryError> {
        if value.trim().is_empty() {
            return Err(self.invalid(key, "must not be empty".to_owned()));
        }
        Ok(())
    }

    /// At least one value and no value twice; `name` renders a value as written in the file.
    fn non_empty_unique<T: Copy + Eq + Hash>(
        &self,
        key: &str,
        values: &[T],
        name: fn(T) -> &'static str,
    ) -> Result<(), RegistryError> {
        if values.is_empty() {
            return Err(self.invalid(key, "must list at least one value".to_owned()));
        }
        let mut set = HashSet::new();
        if let Some(dup) = values.iter().find(|v| !set.insert(**v)) {
            return Err(self.invalid(key, format!("`{}` is listed twice", name(*dup))));
        }
        Ok(())
    }

    fn endpoints(
        &self,
        raw: &RawEndpointsTable,
        sandbox: bool,
        sandbox_listen: Option<SandboxHosts<'_>>,
    ) -> Result<BankEndpoints, RegistryError> {
        if sandbox {
            if raw.live.is_some() {
                return Err(self.invalid(
                    "endpoints.live",
                    "must be absent when `sandbox = true`: sandbox profiles use \
                     [endpoints.sandbox] for both environments"
                        .to_owned(),
                ));
            }
            let listen = sandbox_listen.unwrap_or(STAND_IN_SANDBOX);
            let urls = self.environment("endpoints.sandbox", &raw.sandbox, Some(listen))?;
            return Ok(BankEndpoints {
                sandbox: urls.clone(),
                live: urls,
            });
        }
        let Some(live) = &raw.live else {
            return Err(self.invalid(
                "endpoints.live",
                "missing table [endpoints.live] (only `sandbox = true` profiles may omit it)"
                    .to_owned(),
            ));
        };
        Ok(BankEndpoints {
            sandbox: self.environment("endpoints.sandbox", &raw.sandbox, None)?,
            live: self.environment("endpoints.live", live, None)?,
        })
    }

    /// `listen` is `Some` for sandbox profiles only: it replaces the placeholder and allows
    /// plain `http`.
    fn environment(
        &self,
        table: &str,
        raw: &RawEndpoints,
        listen: Option<SandboxHosts<'_>>,
    ) -> Result<Endpoints, RegistryError> {
        let url = |name: &str, value: &str| self.url(&format!("{table}.{name}"), value, listen);
        let api_base = url("api_base", &raw.api_base)?;
        if api_base.query().is_some() {
            return Err(self.invalid(
                &format!("{table}.api_base"),
                "must not have a query string".to_owned(),
            ));
        }
        Ok(Endpoints {
            api_base,
            authorize: url("authorize", &raw.authorize)?,
            token: url("token", &raw.token)?,
            revoke: raw
                .revoke
                .as_deref()
                .map(|v| url("revoke", v))
                .transpose()?,
            app2app_authorize: raw
                .app2app_authorize
                .as_deref()
                .map(|v| url("app2app_authorize", v))
                .transpose()?,
        })
    }

    fn url(
        &self,
        key: &str,
        raw: &str,
        listen: Option<SandboxHosts<'_>>,
    ) -> Result<Url, RegistryError> {
        let text = match listen {
            // The longer placeholder first: `{sandbox}` is not a prefix of it, but stay safe.
            Some(hosts) => raw
                .replace(SANDBOX_WEB_PLACEHOLDER, hosts.web)
                .replace(SANDBOX_PLACEHOLDER, hosts.api),
            None if raw.contains(SANDBOX_PLACEHOLDER) || raw.contains(SANDBOX_WEB_PLACEHOLDER) => {
                return Err(self.invalid(
                    key,
                    format!("`{SANDBOX_PLACEHOLDER}` is only allowed in `sandbox = true` profiles"),
                ))
            }
            None => raw.to_owned(),
        };
        let url = Url::parse(&text)
            .map_err(|e| self.invalid(key, format!("`{raw}` is not a valid URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            // The built-in sandbox may run without TLS in tests and demos.
            "http" if listen.is_some() => {}
            other => {
                return Err(self.invalid(key, format!("`{raw}` must use https, not `{other}`")))
            }
        }
        if url.host_str().map_or(true, str::is_empty) {
            return Err(self.invalid(key, format!("`{raw}` has no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.invalid(key, "must not carry credentials".to_owned()));
        }
        if url.fragment().is_some() {
            return Err(self.invalid(key, format!("`{raw}` must not have a fragment")));
        }
        Ok(url)
    }

    fn limits(&self, limits: &Limits) -> Result<(), RegistryError> {
        let positive = [
            ("limits.history_days_retail", limits.history_days_retail),
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
            if value == 0 {
                return Err(self.invalid(key, "must be at least 1".to_owned()));
            }
        }
        Ok(())
    }

    fn signature(&self, raw: &RawSignature) -> Result<SignatureProfile, RegistryError> {
        let key_id = match (raw.key_id, &raw.cert_url) {
            (RawKeyId::CertUrl, Some(cert_url)) => KeyIdFormat::CertUrl {
                cert_url: self.url("signature.cert_url", cert_url, None)?,
            },
            (RawKeyId::CertUrl, None) => {
                return Err(self.invalid(
                    "signature.cert_url",
                    "required when `key_id = \"cert-url\"`".to_owned(),
                ))
            }
            (_, Some(_)) => {
                return Err(self.invalid(
                    "signature.cert_url",
                    "only allowed with `key_id = \"cert-url\"`".to_owned(),
                ))
            }
            (RawKeyId::ClientId, None) => KeyIdFormat::ClientId,
            (RawKeyId::SnCa, None) => KeyIdFormat::SnCa,
        };
        if raw.headers.is_empty() {
            return Err(self.invalid(
                "signature.headers",
                "must list at least one header".to_owned(),
            ));
        }
        let mut seen = HashSet::new();
        for (key, names) in [
            ("signature.headers", &raw.headers),
            ("signature.psu_headers", &raw.psu_headers),
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
                "signature.psu_headers",
                format!("`{name}` is not a PSU header (`psu-…`)"),
            ));
        }
        // An always-signed digest with no digest on GET would make every GET fail to sign.
        if raw.headers.iter().any(|h| h == "digest") && !raw.digest_on_get {
            return Err(self.invalid(
                "signature.digest_on_get",
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

    fn window(&self, index: usize, raw: &RawWindow) -> Result<MaintenanceWindow, RegistryError> {
        let key = |field: &str| format!("maintenance[{index}].{field}");
        let weekday: Weekday = raw.weekday.parse().map_err(|_| {
            self.invalid(
                &key("weekday"),
                format!("`{}` is not a weekday such as `monday`", raw.weekday),
            )
        })?;
        let start = self.minute_of_day(&key("start"), &raw.start)?;
        let end = self.minute_of_day(&key("end"), &raw.end)?;
        MaintenanceWindow::new(weekday, start, end).ok_or_else(|| {
            self.invalid(
                &key("end"),
                format!(
                    "`{}` must be after start `{}` on the same day (split windows that \
                     cross midnight)",
                    raw.end, raw.start
                ),
            )
        })
    }

    /// `HH:MM` (24-hour, `24:00` allowed) to minutes after midnight.
    fn minute_of_day(&self, key: &str, value: &str) -> Result<u16, RegistryError> {
        let parsed = match value.as_bytes() {
            [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
                let hour = u16::from((h1 - b'0') * 10 + (h2 - b'0'));
                let minute = u16::from((m1 - b'0') * 10 + (m2 - b'0'));
                let total = hour * 60 + minute;
                (minute < 60 && total <= MINUTES_PER_DAY).then_some(total)
            }
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.invalid(
                key,
                format!("`{value}` is not a time of day `HH:MM` (00:00 to 24:00)"),
            )
        })
    }
}
