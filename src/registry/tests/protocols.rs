//! Profiles of each protocol: the section `protocol` names is required and validated, and a
//! key or table of another protocol is refused with the file and the key named.

use super::*;

/// A valid profile of `protocol` (not STET), with `section` as its protocol table.
fn other(protocol: &str, section: &str) -> String {
    format!(
        r#"id = "test-bank"
name = "Test Provider"
brand = "Test"
country = "FR"
protocol = "{protocol}"
time_zone = "Europe/Paris"

[endpoints.sandbox]
api_base = "https://sandbox.test.example/api"

[endpoints.live]
api_base = "https://live.test.example/api"

[{protocol}]
{section}
"#
    )
}

const TREEZOR: &str = "scopes = [\"read_only\", \"read_write\"]\nsca_declare_within_seconds = 300";
const CONTIS: &str = "two_factor_login_days = 90\nsca_poll_seconds = 5";
const CURRENCYCLOUD: &str = "otp_valid_seconds = 600\notp_max_attempts = 5";

fn load(text: &str) -> Bank {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "test-bank.toml", text);
    let registry = Registry::load(&[dir.path().to_path_buf()], None).unwrap();
    registry.get("test-bank").unwrap().clone()
}

#[test]
fn each_protocol_loads_with_its_own_section() {
    let treezor = load(&other("treezor", TREEZOR));
    assert_eq!(treezor.protocol(), Protocol::Treezor);
    assert!(treezor.stet().is_none());
    assert_eq!(
        treezor.profile,
        ProtocolProfile::Treezor(TreezorProfile {
            scopes: vec![TreezorScope::ReadOnly, TreezorScope::ReadWrite],
            sca_declare_within_seconds: 300,
        })
    );
    assert!(treezor.endpoints.live.oauth.is_none());

    let contis = load(&other("contis", CONTIS));
    assert_eq!(
        contis.profile,
        ProtocolProfile::Contis(ContisProfile {
            two_factor_login_days: 90,
            sca_poll_seconds: 5,
        })
    );
    let currencycloud = load(&other("currencycloud", CURRENCYCLOUD));
    assert_eq!(
        currencycloud.profile,
        ProtocolProfile::Currencycloud(CurrencycloudProfile {
            otp_valid_seconds: 600,
            otp_max_attempts: 5,
        })
    );
    let json = serde_json::to_value(&currencycloud).unwrap();
    assert_eq!(json["protocol"], "currencycloud");
    assert_eq!(json["otp_max_attempts"], 5);
    assert!(
        json["endpoints"]["live"].get("authorize").is_none(),
        "{json}"
    );
}

#[test]
fn an_unknown_protocol_is_refused_with_the_key_named() {
    let text = other("treezor", TREEZOR).replace("protocol = \"treezor\"", "protocol = \"ebics\"");
    assert_rejected(
        &text,
        "`protocol`: `ebics` is not one of `stet`, `treezor`, `contis`, `currencycloud`",
    );
}

#[test]
fn stet_keys_and_tables_are_refused_on_other_protocols() {
    let treezor = other("treezor", TREEZOR);
    // A STET-only key at the top, as the old format had them.
    assert_rejected(
        &treezor.replace(
            "country = \"FR\"",
            "country = \"FR\"\nbank_code = \"12579\"",
        ),
        "unknown field `bank_code`",
    );
    // A STET key inside another protocol's table.
    assert_rejected(&format!("{treezor}pkce = true\n"), "unknown field `pkce`");
    // A whole [stet] table.
    let stet_table = profile("test-bank");
    let stet_section = &stet_table[stet_table.find("[stet]").unwrap()..];
    assert_rejected(
        &format!("{treezor}\n{stet_section}"),
        "`stet`: the [stet] table is only for `protocol = \"stet\"` profiles; this one says \
         `protocol = \"treezor\"`",
    );
    // An OAuth endpoint on a protocol without an authorization server.
    let contis = other("contis", CONTIS);
    assert_rejected(
        &contis.replace(
            "api_base = \"https://live.test.example/api\"",
            "api_base = \"https://live.test.example/api\"\nauthorize = \"https://live.test.example/a\"",
        ),
        "`endpoints.live.authorize`: only for `stet` and `treezor`",
    );
    // Treezor, the identity provider of its programs: both ends once one is named.
    assert_rejected(
        &treezor.replace(
            "api_base = \"https://live.test.example/api\"",
            "api_base = \"https://live.test.example/api\"\nauthorize = \"https://live.test.example/a\"",
        ),
        "`endpoints.live.token`: required by `protocol = \"treezor\"`",
    );
    let with_oauth = load(&treezor.replace(
        "api_base = \"https://live.test.example/api\"",
        "api_base = \"https://live.test.example/api\"\nauthorize = \"https://live.test.example/a\"\ntoken = \"https://live.test.example/t\"",
    ));
    let oauth = with_oauth.endpoints.live.oauth.expect("both ends named");
    assert_eq!(oauth.token.as_str(), "https://live.test.example/t");
}

#[test]
fn the_named_section_is_required_and_checked() {
    assert_rejected(
        &format!(
            "{}\n[currencycloud]\n{CURRENCYCLOUD}\n",
            other("contis", CONTIS)
        ),
        "`currencycloud`: the [currencycloud] table is only for",
    );
    let bare = other("contis", CONTIS);
    let bare = &bare[..bare.find("[contis]").unwrap()];
    assert_rejected(bare, "`contis`: missing table [contis]");
    assert_rejected(
        &profile("test-bank")
            .replace("[stet]", "[stet.extra]")
            .replace("[stet.limits]", "[limits]"),
        "unknown field",
    );
    for (text, key) in [
        (
            other("treezor", &TREEZOR.replace("300", "0")),
            "`treezor.sca_declare_within_seconds`",
        ),
        (
            other(
                "treezor",
                &TREEZOR.replace("\"read_only\", \"read_write\"", ""),
            ),
            "`treezor.scopes`",
        ),
        (
            other("contis", &CONTIS.replace("= 5", "= 0")),
            "`contis.sca_poll_seconds`",
        ),
        (
            other("currencycloud", &CURRENCYCLOUD.replace("= 5", "= 0")),
            "`currencycloud.otp_max_attempts`",
        ),
    ] {
        assert_rejected(&text, key);
    }
    assert_rejected(
        &other("treezor", &TREEZOR.replace("read_only", "read_everything")),
        "unknown variant `read_everything`",
    );
}

#[test]
fn stet_requires_its_oauth_endpoints() {
    assert_rejected(
        &profile("test-bank").replace(
            "authorize = \"https://sandbox.test.example/oauth/authorize\"\n",
            "",
        ),
        "`endpoints.sandbox.authorize`: required by `protocol = \"stet\"`",
    );
}
