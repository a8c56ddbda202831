//! The payment capability through the provider boundary, against the sandbox bank: a domain
//! `PaymentOrder` is initiated through `Connector::payments()`, answers a `redirect` SCA (the
//! bank's approval page), and once approved is confirmed and settles — no STET type in sight.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::sandbox::{sandbox_bank, tpp, Sandbox, BCP, LEA_IBAN_2};
use passerelle::bank::stet::StetConnector;
use passerelle::bank::{Answer, BankErrorKind, Connector, PaymentError};
use passerelle::model::{Currency, Iban, Money, PaymentOrder, PaymentStatus, ScaKind};

fn connector(sbx: &Sandbox) -> StetConnector {
    let bank = sandbox_bank(sbx);
    let tpp = tpp(sbx);
    StetConnector::new(bank, tpp.oauth, tpp.stet).expect("a STET profile")
}

fn order(debtor: &str, minor: i64) -> PaymentOrder {
    PaymentOrder {
        instruction_id: "PAS-0001".into(),
        end_to_end_id: "E2E-0001".into(),
        requested_execution_date: None,
        instant: false,
        debtor: Some(Iban::new(debtor)),
        creditor_name: "Marchand SA".into(),
        creditor: Iban::new("FR7630004000031234567890143"),
        amount: Money::from_minor(minor, "EUR".parse::<Currency>().unwrap()),
        remittance: Some("Commande 42".into()),
        created_at: chrono::Utc::now(),
        return_ok: url::Url::parse("https://tpp.example/payments/ok").unwrap(),
        return_ko: url::Url::parse("https://tpp.example/payments/ko").unwrap(),
    }
}

#[actix_web::test]
async fn a_payment_is_initiated_approved_confirmed_and_settles_through_the_boundary() {
    let sbx = Sandbox::start().await;
    let stet = connector(&sbx);
    let connector: &dyn Connector = &stet;
    let payments = connector
        .payments()
        .expect("BPCE banks grant the PISP role");

    let created = payments
        .initiate(None, &order(LEA_IBAN_2, 1225))
        .await
        .unwrap();
    assert_eq!(created.exchanges.len(), 1);
    assert_eq!(created.exchanges[0].status, 201);
    let Answer::Sca(sca) = created.value.next else {
        panic!("the user approves a STET payment first");
    };
    let ScaKind::Redirect {
        url: Some(approval),
    } = sca.kind
    else {
        panic!("a redirect to the bank's approval page: {:?}", sca.kind);
    };
    let id = created.value.id;
    let before = payments.status(None, &id).await.unwrap();
    assert_eq!(
        before.value.status,
        PaymentStatus::AwaitingApproval,
        "not approved yet"
    );
    assert_eq!(before.value.code, "RCVD");

    let back = sbx.approve(BCP, &approval, "LEA").await;
    // The user's authorization code rides on the report URL (for the `o-confirmation`).
    assert!(
        back.starts_with("https://tpp.example/payments/ok?code="),
        "{back}"
    );
    let approved = payments.status(None, &id).await.unwrap();
    assert_eq!(approved.value.status, PaymentStatus::Approved);
    assert!(approved.value.awaits_confirmation, "ACCP: the bank waits");

    let confirmed = payments.confirm(None, &id, None).await.unwrap();
    assert_eq!(confirmed.value.status, PaymentStatus::Pending);
    assert_eq!(confirmed.value.code, "ACSP");
    assert!(!confirmed.value.awaits_confirmation);
    // A second confirmation is the bank's 409, typed, not a status.
    let again = payments.confirm(None, &id, None).await.unwrap_err();
    assert!(
        matches!(&again, PaymentError::Bank(e) if matches!(e.kind, BankErrorKind::Rejected { status: 409, .. })),
        "{again}"
    );

    let mut last = confirmed.value;
    for _ in 0..10 {
        sbx.handle.clock.advance(Duration::from_secs(10)).unwrap();
        last = payments.status(None, &id).await.unwrap().value;
        if last.status.is_final() {
            break;
        }
    }
    assert_eq!(last.status, PaymentStatus::Executed);
}

#[actix_web::test]
async fn an_order_the_bank_refuses_is_a_typed_bank_error() {
    let sbx = Sandbox::start().await;
    let stet = connector(&sbx);
    let payments = (&stet as &dyn Connector).payments().unwrap();
    // Zero is not an amount a bank initiates.
    let refused = payments
        .initiate(None, &order(LEA_IBAN_2, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, PaymentError::Bank(e) if e.status == Some(400)),
        "{refused}"
    );
}
