//! Unit tests of the registry: shipped profiles, validation errors and sandbox handling; the
//! profiles' own helpers (calendar, views, ids) in `profiles`.

// Panicking on an unexpected result is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, TimeZone, Utc, Weekday};
use tempfile::TempDir;

use super::*;

const LISTEN: &str = "127.0.0.1:8443";

const BPCE_PSU_HEADERS: [&str; 10] = [
    "psu-ip-address",
    "psu-ip-port",
    "psu-http-method",
    "psu-date",
    "psu-user-agent",
    "psu-referer",
    "psu-accept",
    "psu-accept-charset",
    "psu-accept-encoding",
    "psu-accept-language",
];

/// A valid, non-sandbox profile for an extra folder (id must match the file name).
fn profile(id: &str) -> String {
    format!(
        r#"id = "{id}"
name = "Test Bank"
brand = "Test"
country = "FR"
protocol = "stet"
time_zone = "Europe/Paris"

[endpoints.sandbox]
api_base = "https://sandbox.test.example/stet/psd2/v1.4.2"
authorize = "https://sandbox.test.example/oauth/authorize"
token = "https://sandbox.test.example/oauth/token"

[endpoints.live]
api_base = "https://live.test.example/stet/psd2/v1.4.2"
authorize = "https://live.test.example/oauth/authorize"
token = "https://live.test.example/oauth/token"

[stet]
bank_code = "99999"
version = "1.4.2"
consent_model = "mixed"
scopes = ["aisp"]
balance_types = ["CLBD", "XPCD"]
fallback = false
pkce = true

[stet.limits]
history_days_retail = 90
history_days_corporate = 90
max_operations_per_call = 100
batch_calls_per_day = 4

[stet.signature]
key_id = "client-id"
headers = ["(request-target)", "x-request-id"]
digest_on_get = false
"#
    )
}

/// `profile(id)` with `line` added among the common (top-level) keys.
fn with_top_level(id: &str, line: &str) -> String {
    profile(id).replace(
        "time_zone = \"Europe/Paris\"\n",
        &format!("time_zone = \"Europe/Paris\"\n{line}\n"),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path
}

fn hosts(api: &str) -> SandboxHosts<'_> {
    SandboxHosts { api, web: api }
}

fn builtin_registry() -> Registry {
    Registry::load(&[], Some(hosts(LISTEN))).unwrap()
}

/// Loads `text` as `test-bank.toml` in a fresh folder; returns the error and the file path.
fn rejected(text: &str) -> (String, String) {
    let dir = TempDir::new().unwrap();
    let file = write(dir.path(), "test-bank.toml", text);
    let err = Registry::load(&[dir.path().to_path_buf()], Some(hosts(LISTEN)))
        .expect_err("profile should be rejected")
        .to_string();
    (err, file.display().to_string())
}

fn assert_rejected(text: &str, expected: &str) {
    let (err, file) = rejected(text);
    assert!(err.starts_with(&file), "error does not name {file}: {err}");
    assert!(err.contains(expected), "expected `{expected}` in: {err}");
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

#[test]
fn every_shipped_file_loads() {
    let registry = builtin_registry();
    assert_eq!(registry.len(), builtin::BUILTIN.len());
    assert!(registry.len() >= 34, "only {} profiles", registry.len());
    let ids: Vec<_> = registry.banks().map(|b| b.id.to_string()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "banks() must be sorted by id");
    for (name, _) in builtin::BUILTIN {
        assert!(name.starts_with("bank-registry/") && name.ends_with(".toml"));
    }
}

#[test]
fn every_bpce_brand_is_present_with_its_codetab() {
    let registry = builtin_registry();
    let expected = [
        ("banque-bcp", "12579"),
        ("palatine", "40978"),
        ("banque-de-savoie", "10548"),
        ("credit-cooperatif", "42559"),
        ("btp-banque", "30258"),
        ("natixis", "18919"),
        ("caisse-epargne-ile-de-france", "17515"),
        ("banque-populaire-rives-de-paris", "10207"),
        ("banque-populaire-bourgogne-franche-comte", "10807"),
        ("banque-populaire-aquitaine-centre-atlantique", "10907"),
        ("banque-populaire-du-nord", "13507"),
        ("banque-populaire-grand-ouest", "13807"),
        ("banque-populaire-mediterranee", "14607"),
        ("banque-populaire-alsace-lorraine-champagne", "14707"),
        ("banque-populaire-du-sud", "16607"),
        ("banque-populaire-auvergne-rhone-alpes", "16807"),
        ("banque-populaire-occitane", "17807"),
        ("banque-populaire-val-de-france", "18707"),
    ];
    for (id, code) in expected {
        let bank = registry
            .get(id)
            .unwrap_or_else(|| panic!("{id} is missing"));
        assert_eq!(bank.stet().unwrap().bank_code.as_str(), code, "{id}");
    }
    let brand_count = |brand: &str| {
        registry
            .banks()
            .filter(|b| !b.sandbox && b.brand == brand)
            .count()
    };
    assert_eq!(brand_count("Banque Populaire"), 11);
    assert_eq!(brand_count("Caisse d'Epargne"), 15);
}

#[test]
fn bpce_profiles_carry_the_portal_facts() {
    let registry = builtin_registry();
    for bank in registry.banks().filter(|b| !b.sandbox) {
        let id = bank.id.as_str();
        assert_eq!(bank.protocol(), Protocol::Stet, "{id}");
        let stet = bank.stet().unwrap();
        let code = stet.bank_code.as_str();
        assert_eq!(stet.protocol_version, ProtocolVersion::V1_4_2, "{id}");
        assert_eq!(stet.consent_model, ConsentModel::Mixed, "{id}");
        assert_eq!(
            stet.scopes,
            [Scope::Aisp, Scope::Pisp, Scope::Cbpii],
            "{id}"
        );
        assert_eq!(stet.balance_types, [BalanceType::Clbd], "{id}");
        assert_eq!(bank.time_zone, chrono_tz::Europe::Paris, "{id}");
        assert!(stet.fallback && !stet.pkce, "{id}");
        assert_eq!(stet.signature.key_id, KeyIdFormat::ClientId, "{id}");
        assert_eq!(
            stet.signature.headers,
            ["(request-target)", "date", "digest", "x-request-id"],
            "{id}"
        );
        assert_eq!(stet.signature.psu_headers, BPCE_PSU_HEADERS, "{id}");
        assert!(stet.signature.digest_on_get, "{id}");
        assert_eq!(
            stet.limits,
            Limits {
                history_days_retail: 62,
                history_days_corporate: 180,
                max_operations_per_call: 500,
                batch_calls_per_day: 4,
            },
            "{id}"
        );
        assert_eq!(
            bank.maintenance,
            [MaintenanceWindow::new(Weekday::Mon, 0, 6 * 60).unwrap()],
            "{id}"
        );
        for (env, host) in [
            (
                Environment::Sandbox,
                format!("www.{code}.sandbox.api.89c3.com"),
            ),
            (Environment::Live, format!("www.{code}.live.api.89c3.com")),
        ] {
            let urls = bank.endpoints(env);
            let base = format!("https://{host}/stet/psd2");
            assert_eq!(urls.api_base.as_str(), format!("{base}/v1.4.2"), "{id}");
            let oauth = urls.oauth.as_ref().unwrap();
            assert_eq!(oauth.authorize.as_str(), format!("{base}/oauth/authorize"));
            assert_eq!(oauth.token.as_str(), format!("{base}/oauth/token"));
            let revoke = oauth.revoke.as_ref().map(|u| u.as_str().to_owned());
            assert_eq!(revoke, Some(format!("{base}/oauth/revoke")), "{id}");
        }
        let oauth = |urls: &Endpoints| urls.oauth.clone().unwrap();
        assert!(
            oauth(&bank.endpoints.sandbox).app2app_authorize.is_none(),
            "{id}"
        );
        let app2app = oauth(&bank.endpoints.live).app2app_authorize.unwrap();
        assert!(
            app2app
                .host_str()
                .unwrap()
                .starts_with(&format!("www.{code}.live.api.")),
            "{id}: {app2app}"
        );
        assert_eq!(app2app.path(), "/stet/psd2/oauth/authorize", "{id}");
    }
    let bcp = registry.get("banque-bcp").unwrap();
    let live = bcp.endpoints.live.oauth.as_ref().unwrap();
    assert_eq!(
        live.app2app_authorize.as_ref().unwrap().as_str(),
        "https://www.12579.live.api.banquebcp.fr/stet/psd2/oauth/authorize"
    );
    let signature = &bcp.stet().unwrap().signature;
    let signed: Vec<_> = signature.signed_headers(false).collect();
    assert_eq!(
        signed,
        ["(request-target)", "date", "digest", "x-request-id"]
    );
    assert_eq!(signature.signed_headers(true).count(), 14);
}

#[test]
fn sandbox_off_drops_sandbox_banks() {
    let registry = Registry::load(&[], None).unwrap();
    assert!(registry.get("sandbox-bcp").is_none());
    assert!(registry.get("sandbox-caisse-epargne").is_none());
    assert!(registry.get("sandbox-treezor").is_none());
    assert!(registry.banks().all(|b| !b.sandbox));
    // The three sandbox profiles: two STET banks and the Treezor simulator.
    assert_eq!(registry.len(), builtin::BUILTIN.len() - 3);
}

#[test]
fn sandbox_placeholder_is_replaced_by_the_listen_address() {
    let registry = Registry::load(
        &[],
        Some(SandboxHosts {
            api: "localhost:9443",
            web: "localhost:9444",
        }),
    )
    .unwrap();
    let bank = registry.get("sandbox-bcp").unwrap();
    let stet = bank.stet().unwrap();
    assert!(bank.sandbox && stet.pkce);
    assert_eq!(bank.name, "Banque BCP (sandbox)");
    assert_eq!(stet.bank_code.as_str(), "12579");
    assert_eq!(stet.signature.key_id, KeyIdFormat::ClientId);
    let urls = &bank.endpoints.sandbox;
    let oauth = urls.oauth.as_ref().unwrap();
    assert_eq!(
        urls.api_base.as_str(),
        "https://localhost:9443/banks/12579/stet/psd2/v1.4.2"
    );
    assert_eq!(
        oauth.authorize.as_str(),
        "https://localhost:9444/banks/12579/stet/psd2/oauth/authorize",
        "the PSU's login page is on the pages listener"
    );
    assert_eq!(
        oauth.token.as_str(),
        "https://localhost:9443/banks/12579/stet/psd2/oauth/token"
    );
    assert_eq!(&bank.endpoints.live, urls, "live and sandbox are the same");

    let ce = registry.get("sandbox-caisse-epargne").unwrap();
    assert_eq!(ce.name, "Caisse d'Epargne Île-de-France (sandbox)");
    assert_eq!(ce.stet().unwrap().bank_code.as_str(), "17515");
    assert_eq!(
        ce.endpoints.live.api_base.as_str(),
        "https://localhost:9443/banks/17515/stet/psd2/v1.4.2"
    );
}

#[test]
fn bad_sandbox_listen_address_is_rejected() {
    for addr in ["", "evil.example/path", "a@b:1", "host:99999"] {
        let err = Registry::load(&[], Some(hosts(addr))).unwrap_err();
        assert!(
            matches!(err, RegistryError::SandboxListen { .. }),
            "{addr}: {err}"
        );
    }
}

#[test]
fn broken_profiles_are_rejected_with_the_file_name() {
    let good = profile("test-bank");
    let live_api = "https://live.test.example/stet/psd2/v1.4.2";
    let cases: Vec<(String, &str)> = vec![
        (format!("bogus = 1\n{good}"), "unknown field `bogus`"),
        (
            good.replace("token = \"https://live.test.example/oauth/token\"\n", ""),
            "`endpoints.live.token`: required by `protocol = \"stet\"`",
        ),
        (good.replace("fallback = false\n", ""), "missing field `fallback`"),
        (good.replace(live_api, "not a url"), "endpoints.live.api_base"),
        (
            good.replace(live_api, "http://live.test.example/v1"),
            "must use https",
        ),
        (
            good.replace(live_api, "https://{sandbox}/v1"),
            "only allowed in `sandbox = true` profiles",
        ),
        (good.replace("Europe/Paris", "Europe/Pariss"), "`time_zone`"),
        (good.replace("\"99999\"", "\"9999\""), "`stet.bank_code`"),
        (good.replace("\"99999\"", "\"1234a\""), "`stet.bank_code`"),
        (
            good.replace("history_days_retail = 90", "history_days_retail = 0"),
            "`stet.limits.history_days_retail`: must be at least 1",
        ),
        (
            good.replace("history_days_retail = 90", "history_days_retail = -1"),
            "invalid value",
        ),
        (good.replace("id = \"test-bank\"", "id = \"\""), "`id`"),
        (
            good.replace("id = \"test-bank\"", "id = \"other-bank\""),
            "must equal the file name",
        ),
        (good.replace("country = \"FR\"", "country = \"fr\""), "`country`"),
        (good.replace("name = \"Test Bank\"", "name = \" \""), "`name`"),
        (good.replace("[\"aisp\"]", "[]"), "`stet.scopes`"),
        (
            good.replace("[\"aisp\"]", "[\"aisp\", \"aisp\"]"),
            "`stet.scopes`: `aisp` is listed twice",
        ),
        (
            good.replace("\"CLBD\", \"XPCD\"", "\"CLBD\", \"NOPE\""),
            "unknown variant `NOPE`",
        ),
        (good.replace("\"1.4.2\"", "\"1.5\""), "unknown variant `1.5`"),
        (
            good.replace("key_id = \"client-id\"", "key_id = \"cert-url\""),
            "`stet.signature.cert_url`: required",
        ),
        (
            good.replace(
                "key_id = \"client-id\"",
                "key_id = \"client-id\"\ncert_url = \"https://x.example/c\"",
            ),
            "only allowed with",
        ),
        (
            good.replace("\"x-request-id\"]", "\"x-request-id\", \"digest\"]"),
            "`stet.signature.digest_on_get`",
        ),
        (
            good.replace("\"x-request-id\"]", "\"X-Request-Id\"]"),
            "not a lowercase header name",
        ),
        (
            good.replace(
                "digest_on_get = false",
                "digest_on_get = false\npsu_headers = [\"date\"]",
            ),
            "not a PSU header",
        ),
        (
            format!("{good}\n[[maintenance]]\nweekday = \"monday\"\nstart = \"06:00\"\nend = \"00:00\"\n"),
            "`maintenance[0].end`",
        ),
        (
            format!("{good}\n[[maintenance]]\nweekday = \"moonday\"\nstart = \"00:00\"\nend = \"06:00\"\n"),
            "`maintenance[0].weekday`",
        ),
        (
            format!("{good}\n[[maintenance]]\nweekday = \"monday\"\nstart = \"0:00\"\nend = \"06:00\"\n"),
            "`maintenance[0].start`",
        ),
        (
            with_top_level("test-bank", "sandbox = true"),
            "`endpoints.live`: must be absent",
        ),
        (
            good.replace("[endpoints.live]", "[endpoints.other]"),
            "unknown field `other`",
        ),
        (
            with_top_level("test-bank", "extra_ca_pem = \"missing.pem\""),
            "`extra_ca_pem`",
        ),
        ("this is = not toml [".to_owned(), "line 1"),
    ];
    for (text, expected) in cases {
        assert_rejected(&text, expected);
    }
}

#[test]
fn valid_extra_profile_loads_and_other_files_are_ignored() {
    let dir = TempDir::new().unwrap();
    let text = with_top_level("test-bank", "extra_ca_pem = \"certs/test-ca.pem\"");
    write(dir.path(), "test-bank.toml", &text);
    write(dir.path(), "README.md", "not a profile");
    fs::create_dir(dir.path().join("certs")).unwrap();
    write(
        &dir.path().join("certs"),
        "test-ca.pem",
        "-----BEGIN CERTIFICATE-----",
    );

    let registry = Registry::load(&[dir.path().to_path_buf()], None).unwrap();
    let bank = registry.get("test-bank").unwrap();
    assert_eq!(
        bank.extra_ca_pem.as_deref(),
        Some(dir.path().join("certs/test-ca.pem").as_path())
    );
    assert!(bank.maintenance.is_empty() && bank.stet().unwrap().signature.psu_headers.is_empty());
    assert!(bank.endpoints.live.oauth.as_ref().unwrap().revoke.is_none());
    assert_eq!(
        bank.source,
        dir.path().join("test-bank.toml").display().to_string()
    );
    assert_eq!(registry.len(), builtin::BUILTIN.len() - 3 + 1);
}

#[test]
fn duplicate_ids_across_folders_are_rejected() {
    let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let first = write(a.path(), "test-bank.toml", &profile("test-bank"));
    let second = write(b.path(), "test-bank.toml", &profile("test-bank"));
    let err = Registry::load(&[a.path().into(), b.path().into()], None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, RegistryError::DuplicateId { .. }), "{msg}");
    assert!(msg.starts_with(&second.display().to_string()), "{msg}");
    assert!(msg.contains(&first.display().to_string()), "{msg}");
}

#[test]
fn extra_profiles_cannot_reuse_builtin_ids() {
    // Sandbox ids are reserved too, even when the sandbox is off.
    for (id, listen) in [("banque-bcp", Some(hosts(LISTEN))), ("sandbox-bcp", None)] {
        let dir = TempDir::new().unwrap();
        let file = write(dir.path(), &format!("{id}.toml"), &profile(id));
        let err = Registry::load(&[dir.path().into()], listen).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, RegistryError::BuiltinId { .. }), "{msg}");
        assert!(msg.starts_with(&file.display().to_string()), "{msg}");
        assert!(msg.contains(&format!("bank-registry/{id}.toml")), "{msg}");
    }
}

#[test]
fn unreadable_folder_or_file_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope");
    let err = Registry::load(std::slice::from_ref(&missing), None).unwrap_err();
    assert!(matches!(err, RegistryError::ReadDir { .. }), "{err}");
    assert!(err.to_string().starts_with(&missing.display().to_string()));

    let file = dir.path().join("test-bank.toml");
    fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
    let err = Registry::load(&[dir.path().into()], None).unwrap_err();
    assert!(matches!(err, RegistryError::ReadFile { .. }), "{err}");
    assert!(err.to_string().starts_with(&file.display().to_string()));
}

#[test]
fn broken_builtin_files_are_named_by_their_registry_path() {
    let name = "bank-registry/test-bank.toml";
    let text = format!("oops = true\n{}", profile("test-bank"));
    let err = Registry::load_from(&[(name, &text)], &[], None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bank-registry/test-bank.toml: line 1: unknown field `oops`"),
        "{err}"
    );

    let text = with_top_level("test-bank", "extra_ca_pem = \"a.pem\"");
    let err = Registry::load_from(&[(name, &text)], &[], None).unwrap_err();
    assert!(
        err.to_string().contains("built-in profiles cannot"),
        "{err}"
    );

    // A broken sandbox profile is caught even with the sandbox off.
    let sandbox = builtin::BUILTIN
        .iter()
        .find(|(n, _)| n.ends_with("sandbox-bcp.toml"))
        .unwrap()
        .1
        .replace(
            "https://{sandbox}/banks/12579/stet/psd2/oauth/token",
            "ftp://{sandbox}/t",
        );
    let err = Registry::load_from(&[("bank-registry/sandbox-bcp.toml", &sandbox)], &[], None)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("bank-registry/sandbox-bcp.toml: `endpoints.sandbox.token`"),
        "{err}"
    );
}

mod profiles;
mod protocols;
