//! Reading registry files and turning them into validated [`Bank`] profiles.
//!
//! Parsing is two steps: serde maps the TOML onto `Raw*` structs that mirror the file
//! (`deny_unknown_fields` everywhere, so a typo is an error rather than a silently ignored
//! key), then `build` checks every value and produces the typed profile: the common fields
//! here, each protocol's section in `stet.rs` and `providers.rs`.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::hash::Hash;
use std::path::{Path, PathBuf};

use chrono::Weekday;
use chrono_tz::Tz;
use url::Url;

use super::error::RegistryError;
use super::profile::{
    Bank, BankEndpoints, BankId, Endpoints, MaintenanceWindow, OAuthEndpoints, Protocol,
    MINUTES_PER_DAY,
};
use super::providers::ProtocolProfile;
use super::raw::{RawEndpoints, RawEndpointsTable, RawProfile, RawWindow};
use super::SandboxHosts;

mod providers;
mod stet;

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
    let mut raw: RawProfile = toml::from_str(text).map_err(|e| RegistryError::Parse {
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
    let protocol = Protocol::ALL
        .into_iter()
        .find(|p| p.as_str() == raw.protocol)
        .ok_or_else(|| {
            let known: Vec<_> = Protocol::ALL.iter().map(|p| format!("`{p}`")).collect();
            check.invalid(
                "protocol",
                format!("`{}` is not one of {}", raw.protocol, known.join(", ")),
            )
        })?;
    if !(raw.country.len() == 2 && raw.country.bytes().all(|b| b.is_ascii_uppercase())) {
        return Err(check.invalid(
            "country",
            format!(
                "`{}` is not an ISO 3166-1 alpha-2 code such as `FR`",
                raw.country
            ),
        ));
    }
    let time_zone: Tz = raw.time_zone.parse().map_err(|_| {
        check.invalid(
            "time_zone",
            format!(
                "`{}` is not an IANA time zone such as `Europe/Paris`",
                raw.time_zone
            ),
        )
    })?;

    if let Some(reason) = &raw.unusable {
        check.not_blank("unusable", reason)?;
        if raw.sandbox {
            return Err(check.invalid(
                "unusable",
                "a built-in sandbox profile is always usable".to_owned(),
            ));
        }
    }
    let profile = check.section(protocol, &mut raw)?;
    let payments = match (raw.payments.take(), &profile) {
        (Some(payments), _) => Some(payments),
        (None, ProtocolProfile::Stet(stet)) if stet.has_scope(super::Scope::Pisp) => Some(
            super::PaymentCapabilities::stet_default(stet.has_scope(super::Scope::Cbpii)),
        ),
        (None, _) => None,
    };
    let endpoints = check.endpoints(&raw.endpoints, protocol, raw.sandbox, sandbox_listen)?;
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
        country: raw.country,
        profile,
        time_zone,
        sandbox: raw.sandbox,
        unusable: raw.unusable,
        endpoints,
        maintenance,
        payments,
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

/// Checks values and builds errors that name the file being checked.
pub(super) struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    pub(super) fn invalid(&self, key: &str, reason: String) -> RegistryError {
        RegistryError::Invalid {
            file: self.file.to_owned(),
            key: key.to_owned(),
            reason,
        }
    }

    pub(super) fn not_blank(&self, key: &str, value: &str) -> Result<(), RegistryError> {
        if value.trim().is_empty() {
            return Err(self.invalid(key, "must not be empty".to_owned()));
        }
        Ok(())
    }

    /// At least one value and no value twice; `name` renders a value as written in the file.
    pub(super) fn non_empty_unique<T: Copy + Eq + Hash>(
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

    /// The protocol's section, taken out of `raw`: the one `protocol` names must be there, and
    /// no other.
    fn section(
        &self,
        protocol: Protocol,
        raw: &mut RawProfile,
    ) -> Result<ProtocolProfile, RegistryError> {
        let present = [
            (Protocol::Stet, raw.stet.is_some()),
            (Protocol::Treezor, raw.treezor.is_some()),
            (Protocol::Contis, raw.contis.is_some()),
            (Protocol::Currencycloud, raw.currencycloud.is_some()),
        ];
        if let Some((other, _)) = present.iter().find(|(p, here)| *here && *p != protocol) {
            return Err(self.invalid(
                other.as_str(),
                format!(
                    "the [{other}] table is only for `protocol = \"{other}\"` profiles; this one \
                     says `protocol = \"{protocol}\"`"
                ),
            ));
        }
        let missing = || {
            self.invalid(
                protocol.as_str(),
                format!("missing table [{protocol}] (required by `protocol = \"{protocol}\"`)"),
            )
        };
        Ok(match protocol {
            Protocol::Stet => {
                ProtocolProfile::Stet(self.stet(raw.stet.take().ok_or_else(missing)?)?)
            }
            Protocol::Treezor => {
                ProtocolProfile::Treezor(self.treezor(raw.treezor.take().ok_or_else(missing)?)?)
            }
            Protocol::Contis => {
                ProtocolProfile::Contis(self.contis(raw.contis.take().ok_or_else(missing)?)?)
            }
            Protocol::Currencycloud => ProtocolProfile::Currencycloud(
                self.currencycloud(raw.currencycloud.take().ok_or_else(missing)?)?,
            ),
        })
    }

    fn endpoints(
        &self,
        raw: &RawEndpointsTable,
        protocol: Protocol,
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
            let urls =
                self.environment("endpoints.sandbox", &raw.sandbox, protocol, Some(listen))?;
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
            sandbox: self.environment("endpoints.sandbox", &raw.sandbox, protocol, None)?,
            live: self.environment("endpoints.live", live, protocol, None)?,
        })
    }

    /// `listen` is `Some` for sandbox profiles only: it replaces the placeholder and allows
    /// plain `http`. The OAuth URLs are STET's: required there, refused elsewhere.
    fn environment(
        &self,
        table: &str,
        raw: &RawEndpoints,
        protocol: Protocol,
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
        let oauth_keys = [
            ("authorize", raw.authorize.is_some()),
            ("token", raw.token.is_some()),
            ("revoke", raw.revoke.is_some()),
            ("app2app_authorize", raw.app2app_authorize.is_some()),
        ];
        let names_oauth = oauth_keys.iter().any(|(_, here)| *here);
        if !protocol.authorizes_by_oauth() {
            if let Some((key, _)) = oauth_keys.iter().find(|(_, here)| *here) {
                return Err(self.invalid(
                    &format!("{table}.{key}"),
                    format!(
                        "only for `stet` and `treezor`: `protocol = \"{protocol}\"` has no OAuth \
                         authorization server to name"
                    ),
                ));
            }
        }
        // A Treezor program may run on client credentials alone; once it names its
        // authorization server (Treezor as the users' identity provider), both ends are needed.
        if !protocol.authorizes_by_oauth() || (protocol == Protocol::Treezor && !names_oauth) {
            return Ok(Endpoints {
                api_base,
                oauth: None,
            });
        }
        let required = |name: &str, value: &Option<String>| match value {
            Some(v) => url(name, v),
            None => Err(self.invalid(
                &format!("{table}.{name}"),
                format!("required by `protocol = \"{protocol}\"`"),
            )),
        };
        let optional =
            |name: &str, value: &Option<String>| value.as_deref().map(|v| url(name, v)).transpose();
        Ok(Endpoints {
            api_base,
            oauth: Some(OAuthEndpoints {
                authorize: required("authorize", &raw.authorize)?,
                token: required("token", &raw.token)?,
                revoke: optional("revoke", &raw.revoke)?,
                app2app_authorize: optional("app2app_authorize", &raw.app2app_authorize)?,
            }),
        })
    }

    pub(super) fn url(
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
