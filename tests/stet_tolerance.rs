//! Each STET tolerance case of issue 4 against a recorded body (`tests/fixtures/stet/`),
//! through the same parse and normalize functions the client uses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use chrono_tz::Europe::Paris;
use passerelle::bank::stet::map;
use passerelle::bank::stet::wire::ais::{
    BalanceStatus, CashAccountType, EndUserIdentity, HalAccounts, HalBalances, HalBeneficiaries,
    HalPaymentCoverageReport, HalTransactions,
};
use passerelle::bank::stet::wire::pis::{
    AuthenticationApproach, HalPaymentRequest, HalPaymentRequestCreation, PaymentInformationStatus,
};
use passerelle::bank::stet::wire::{self, ErrorModel, RemittanceInformation};
use passerelle::model::{AccountKind, BalanceKind, TransactionStatus};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/stet/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn booking_date_with_offset_without_colon_is_the_paris_day() {
    let wire: HalTransactions = wire::from_slice(&fixture("transactions_bpce.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    // 2022-08-25T00:00:00+0200 is the 24th in UTC but the 25th in the bank's calendar.
    assert_eq!(txs[0].booking_date, Some(day(2022, 8, 25)));
    assert_eq!(txs[0].value_date, Some(day(2022, 8, 24)));
    assert_eq!(txs[0].transaction_date, Some(day(2022, 8, 23)));
}

#[test]
fn pending_othr_row_without_booking_date_is_kept() {
    let wire: HalTransactions = wire::from_slice(&fixture("transactions_bpce.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    let othr = &txs[2];
    assert_eq!(othr.status, TransactionStatus::Other("OTHR".into()));
    assert_eq!(othr.booking_date, None);
    assert_eq!(othr.amount.minor, -4250);
    let wire: HalTransactions =
        wire::from_slice(&fixture("transactions_schema_array_numbers.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    assert_eq!(txs[1].status, TransactionStatus::Pending);
    assert_eq!(txs[1].booking_date, None);
}

#[test]
fn remittance_information_as_object_or_array() {
    let object: HalTransactions = wire::from_slice(&fixture("transactions_bpce.json")).unwrap();
    assert!(matches!(
        object.transactions[0].remittance_information,
        RemittanceInformation::Object { .. }
    ));
    let txs = map::transactions(&object, Paris).unwrap();
    assert_eq!(txs[0].description, "CB BOULANGERIE PAUL 23/08/22 PARIS");

    let array: HalTransactions =
        wire::from_slice(&fixture("transactions_schema_array_numbers.json")).unwrap();
    assert!(matches!(
        array.transactions[0].remittance_information,
        RemittanceInformation::Lines(_)
    ));
    let txs = map::transactions(&array, Paris).unwrap();
    assert_eq!(txs[0].description, "SEPA CREDIT TRANSFER from PSD2Company");
    assert_eq!(txs[1].description, "INTERETS CREDITEURS");
    assert_eq!(txs[2].description, "");
}

#[test]
fn amounts_as_strings_with_five_decimals_or_as_numbers() {
    let wire: HalTransactions =
        wire::from_slice(&fixture("transactions_schema_array_numbers.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    assert_eq!(txs[0].amount.minor, -1225); // JSON number 12.25, debit
    assert_eq!(txs[1].amount.minor, 12); // "0.12000", credit
    assert_eq!(txs[2].amount.minor, -700); // JSON integer 7
    let balances: HalBalances = wire::from_slice(&fixture("balances_bpce.json")).unwrap();
    let balances = map::balances(&balances, Paris).unwrap();
    assert_eq!(balances[0].amount.minor, -15000); // signed string
    assert_eq!(balances[2].amount.minor, 31002); // number 310.02
    assert_eq!(balances[3].amount.minor, 85000); // "850.00000"
}

#[test]
fn booking_date_as_utc_date_time_and_plain_date() {
    let wire: HalTransactions =
        wire::from_slice(&fixture("transactions_schema_array_numbers.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    assert_eq!(txs[0].booking_date, Some(day(2018, 2, 12)));
    assert_eq!(txs[2].booking_date, Some(day(2018, 2, 13)));
}

#[test]
fn currency_at_top_level_or_inside_account_id() {
    let top: HalAccounts = wire::from_slice(&fixture("accounts_bpce_consented.json")).unwrap();
    let accounts = map::accounts(&top, Paris).unwrap();
    assert_eq!(accounts[0].currency.as_str(), "EUR");
    let inside: HalAccounts =
        wire::from_slice(&fixture("accounts_currency_in_account_id.json")).unwrap();
    assert_eq!(inside.accounts[0].currency, None);
    let accounts = map::accounts(&inside, Paris).unwrap();
    assert_eq!(accounts[0].currency.as_str(), "EUR");
    assert!(accounts[0].iban.as_ref().unwrap().is_valid());
}

#[test]
fn templated_null_reads_as_absent() {
    let wire: HalAccounts = wire::from_slice(&fixture("accounts_bpce_consented.json")).unwrap();
    let links = wire.accounts[0].links.as_ref().unwrap();
    assert_eq!(links.balances.as_ref().unwrap().templated, None);
    assert_eq!(links.transactions.as_ref().unwrap().templated, Some(true));
    let created: HalPaymentRequestCreation =
        wire::from_slice(&fixture("payment_request_created.json")).unwrap();
    assert_eq!(
        created.applied_authentication_approach,
        Some(AuthenticationApproach::Redirect)
    );
    let approval = created.links.consent_approval.unwrap();
    assert!(approval.href.contains("PR-7f3a9"));
    assert_eq!(approval.templated, None);
}

#[test]
fn unknown_enum_codes_are_kept_not_rejected() {
    let before: HalAccounts = wire::from_slice(&fixture("accounts_before_consent.json")).unwrap();
    assert_eq!(
        before.accounts[1].cash_account_type,
        CashAccountType::Unknown("SVGS".into())
    );
    let accounts = map::accounts(&before, Paris).unwrap();
    assert_eq!(accounts[1].kind, AccountKind::Other("SVGS".into()));
    // Mixed model: no resourceId and no _links before the consent.
    assert!(accounts[0].resource_id.is_none());
    assert!(before.accounts[0].links.is_none());
    // The second IBAN has wrong check digits: kept, flagged.
    assert!(!accounts[1].iban.as_ref().unwrap().is_valid());

    let balances: HalBalances = wire::from_slice(&fixture("balances_bpce.json")).unwrap();
    assert_eq!(
        balances.balances[4].balance_type,
        BalanceStatus::Unknown("PRCD".into())
    );
    let balances = map::balances(&balances, Paris).unwrap();
    assert_eq!(balances[4].kind, BalanceKind::Other("PRCD".into()));
    assert_eq!(balances[1].kind, BalanceKind::ValueDated);
    assert_eq!(balances[1].reference_date, Some(day(2018, 9, 28)));

    let txs: HalTransactions =
        wire::from_slice(&fixture("transactions_schema_array_numbers.json")).unwrap();
    let txs = map::transactions(&txs, Paris).unwrap();
    assert_eq!(txs[2].status, TransactionStatus::Other("RVSD".into()));
}

#[test]
fn card_account_with_linked_account_and_embedded_balances() {
    let wire: HalAccounts = wire::from_slice(&fixture("accounts_bpce_consented.json")).unwrap();
    let accounts = map::accounts(&wire, Paris).unwrap();
    let card = &accounts[1];
    assert_eq!(card.kind, AccountKind::Card);
    assert_eq!(
        card.linked_account.as_ref().unwrap().as_str(),
        "175150009204004305180"
    );
    assert_eq!(
        card.other_identification.as_deref(),
        Some("4974XXXXXXXX1234")
    );
    assert_eq!(accounts[0].balances[0].amount.minor, -15000);
    assert_eq!(card.balances[0].amount.minor, -4250);
}

#[test]
fn empty_entry_reference_is_no_reference_and_bank_code_is_kept() {
    let wire: HalTransactions = wire::from_slice(&fixture("transactions_bpce.json")).unwrap();
    let txs = map::transactions(&wire, Paris).unwrap();
    assert_eq!(txs[1].bank_reference, None);
    assert_eq!(txs[1].amount.minor, 150_000);
    let code = txs[1].bank_transaction_code.as_ref().unwrap();
    assert_eq!(code.family.as_deref(), Some("RCDT"));
    assert!(txs[0].bank_reference.is_some());
}

#[test]
fn schema_break_names_the_offending_field() {
    let err = wire::from_slice::<HalTransactions>(&fixture("transactions_schema_break.json"))
        .unwrap_err();
    assert_eq!(err.field, "transactions[1].transactionAmount.amount");
    assert!(err.message.contains("12,30"), "{}", err.message);
}

#[test]
fn not_json_is_an_error_at_the_document() {
    let err = wire::from_slice::<HalAccounts>(&fixture("not_json.html")).unwrap_err();
    assert!(err.message.contains("expected value"), "{}", err.message);
}

#[test]
fn pis_and_cbpii_resources_parse_from_the_schema_names() {
    let pr: HalPaymentRequest =
        wire::from_slice(&fixture("payment_request_accepted.json")).unwrap();
    assert_eq!(
        pr.payment_request.payment_information_status,
        Some(PaymentInformationStatus::Acsc)
    );
    let ctt = &pr.payment_request.credit_transfer_transaction[0];
    assert_eq!(ctt.payment_id.end_to_end_id, "MyEndToEndId");
    assert_eq!(ctt.instructed_amount.amount.to_string(), "124.35");
    let coverage: HalPaymentCoverageReport =
        wire::from_slice(&fixture("funds_confirmation.json")).unwrap();
    assert!(coverage.result);
    let beneficiaries: HalBeneficiaries =
        wire::from_slice(&fixture("trusted_beneficiaries.json")).unwrap();
    assert_eq!(beneficiaries.beneficiaries[0].creditor.name, "Marc Sandbox");
    let identity: EndUserIdentity = wire::from_slice(&fixture("end_user_identity.json")).unwrap();
    assert_eq!(identity.connected_psu_last_name.as_deref(), Some("SANDBOX"));
    assert!(identity.other.contains_key("connectedPsuNamePrefix"));
    let error: ErrorModel = wire::from_slice(&fixture("error_invalid_token.json")).unwrap();
    assert_eq!(error.error.as_deref(), Some("invalid_token"));
}

#[test]
fn wire_models_serialize_back_with_the_shape_received() {
    let wire: HalTransactions = wire::from_slice(&fixture("transactions_bpce.json")).unwrap();
    let json = serde_json::to_value(&wire).unwrap();
    assert_eq!(
        json["transactions"][0]["remittanceInformation"]["unstructured"][0],
        "CB BOULANGERIE PAUL"
    );
    assert_eq!(
        json["transactions"][0]["transactionAmount"]["amount"],
        "25.90"
    );
    let again: HalTransactions = serde_json::from_value(json).unwrap();
    assert_eq!(again, wire);
}
