//! What a loaded profile offers: its maintenance window and calendar day in the bank's time
//! zone, its public JSON view, API URLs, and strictly parsed ids and codes.

use super::*;

#[test]
fn maintenance_window_is_monday_morning_paris_time() {
    let registry = builtin_registry();
    let bank = registry.get("caisse-epargne-ile-de-france").unwrap();
    // Winter (CET, UTC+1): Monday 2024-01-15.
    assert!(bank.in_maintenance(utc(2024, 1, 15, 2, 0)), "03:00 Paris");
    assert!(
        bank.in_maintenance(utc(2024, 1, 14, 23, 0)),
        "00:00 Paris, Sunday in UTC"
    );
    assert!(bank.in_maintenance(utc(2024, 1, 15, 4, 59)), "05:59 Paris");
    assert!(
        !bank.in_maintenance(utc(2024, 1, 15, 5, 0)),
        "06:00 Paris: end is excluded"
    );
    assert!(
        !bank.in_maintenance(utc(2024, 1, 14, 22, 59)),
        "Sunday 23:59 Paris"
    );
    // Summer (CEST, UTC+2): Monday 2024-07-01.
    assert!(bank.in_maintenance(utc(2024, 7, 1, 1, 0)), "03:00 Paris");
    assert!(
        bank.in_maintenance(utc(2024, 6, 30, 22, 30)),
        "00:30 Paris, Sunday in UTC"
    );
    assert!(
        !bank.in_maintenance(utc(2024, 7, 1, 4, 30)),
        "06:30 Paris, 04:30 UTC"
    );
    // The night clocks went forward (Sunday 2024-03-31) ends in a CEST Monday.
    assert!(
        bank.in_maintenance(utc(2024, 3, 31, 22, 0)),
        "Monday 00:00 CEST"
    );
    assert!(
        !bank.in_maintenance(utc(2024, 3, 31, 21, 59)),
        "Sunday 23:59 CEST"
    );
    // Other days are never in maintenance.
    assert!(
        !bank.in_maintenance(utc(2024, 7, 2, 1, 0)),
        "Tuesday 03:00 Paris"
    );
}

#[test]
fn calendar_day_follows_paris_midnight_not_utc() {
    let registry = builtin_registry();
    let bank = registry.get("banque-bcp").unwrap();
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    // Winter: Paris midnight is 23:00 UTC the day before.
    assert_eq!(
        bank.calendar_day(utc(2024, 1, 15, 22, 59)),
        day(2024, 1, 15)
    );
    assert_eq!(bank.calendar_day(utc(2024, 1, 15, 23, 0)), day(2024, 1, 16));
    // Summer: Paris midnight is 22:00 UTC.
    assert_eq!(bank.calendar_day(utc(2024, 7, 1, 21, 59)), day(2024, 7, 1));
    assert_eq!(bank.calendar_day(utc(2024, 7, 1, 22, 0)), day(2024, 7, 2));
    // New year in Paris while it is still 2024 in UTC.
    assert_eq!(
        bank.calendar_day(utc(2024, 12, 31, 23, 30)),
        day(2025, 1, 1)
    );
}

#[test]
fn json_view_hides_local_details() {
    let registry = builtin_registry();
    let json = serde_json::to_value(registry.get("banque-bcp").unwrap()).unwrap();
    assert_eq!(json["id"], "banque-bcp");
    assert_eq!(json["bank_code"], "12579");
    assert_eq!(json["time_zone"], "Europe/Paris");
    assert_eq!(json["protocol_version"], "1.4.2");
    assert_eq!(json["signature"]["key_id"]["format"], "client-id");
    assert_eq!(
        json["maintenance"],
        serde_json::json!([{"weekday": "monday", "start": "00:00", "end": "06:00"}])
    );
    assert_eq!(json["protocol"], "stet");
    assert_eq!(
        json["endpoints"]["live"]["authorize"],
        "https://www.12579.live.api.89c3.com/stet/psd2/oauth/authorize",
        "the STET section stays flat: the API's shape did not change"
    );
    assert!(json.get("extra_ca_pem").is_none() && json.get("source").is_none());
}

#[test]
fn api_url_keeps_the_version_path() {
    let registry = builtin_registry();
    let urls = registry
        .get("banque-bcp")
        .unwrap()
        .endpoints(Environment::Sandbox);
    assert_eq!(
        urls.api_url("/accounts").unwrap().as_str(),
        "https://www.12579.sandbox.api.89c3.com/stet/psd2/v1.4.2/accounts"
    );
}

#[test]
fn bank_ids_and_codes_parse_strictly() {
    assert!("banque-bcp".parse::<BankId>().is_ok());
    for bad in ["", "-a", "a-", "Banque", "a_b", "a b", &"a".repeat(65)] {
        assert!(bad.parse::<BankId>().is_err(), "{bad:?}");
    }
    assert!("12579".parse::<BankCode>().is_ok());
    for bad in ["", "1257", "125790", "1257a", "١٢٣٤٥"] {
        assert!(bad.parse::<BankCode>().is_err(), "{bad:?}");
    }
}
