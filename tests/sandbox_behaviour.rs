//! The sandbox's behaviour beyond the portal's acceptance table: the batch limit, OAuth details
//! (OTP retry, cancel, single-use codes, PKCE, refresh rotation, 180-day SCA, revocation,
//! expiry), the clock moving histories forward, PISP/CBPII and fault injection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use awc::http::Method;
use base64::Engine as _;
use common::sandbox::*;
use passerelle::sandbox::FaultPlan;
use serde_json::{json, Value};

fn balances(rid: &str, token: &str) -> Call {
    Call::get(BCP, format!("/accounts/{rid}/balances"), token)
}

async fn lea_with_consent(sbx: &Sandbox) -> common::sandbox::Tokens {
    let tokens = sbx.login(BCP, "LEA", "aisp").await;
    assert_eq!(
        sbx.consent(BCP, &tokens.access, &[LEA_IBAN_1, LEA_IBAN_2], false)
            .await
            .status,
        201
    );
    tokens
}

#[actix_web::test]
async fn the_fifth_unattended_call_per_method_and_iban_is_refused() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await.access;
    for _ in 0..4 {
        assert_eq!(
            sbx.send(balances(LEA_RID_1, &token).batch()).await.status,
            200
        );
    }
    let fifth = sbx.send(balances(LEA_RID_1, &token).batch()).await;
    assert_eq!(fifth.status, 429);
    assert!(fifth.header("retry-after").is_some());
    // With the PSU present the same call is unlimited.
    for _ in 0..6 {
        assert_eq!(sbx.send(balances(LEA_RID_1, &token)).await.status, 200);
    }
    // Another IBAN, and another method on the same IBAN, have their own counters.
    assert_eq!(
        sbx.send(balances(LEA_RID_2, &token).batch()).await.status,
        200
    );
    let transactions = Call::get(BCP, format!("/accounts/{LEA_RID_1}/transactions"), &token);
    assert_eq!(sbx.send(transactions.batch()).await.status, 200);
}

#[actix_web::test]
async fn a_wrong_otp_or_unknown_id_shows_an_error_and_allows_a_retry() {
    let sbx = Sandbox::start().await;
    let page = sbx.authorize_page(BCP, "aisp", Some("s1")).await;
    let html = page.text();
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let session = &html[start..start + html[start..].find('"').unwrap()];
    let unknown = sbx
        .form(
            BCP,
            &[
                ("session", session),
                ("action", "login"),
                ("psu_id", "NOBODY"),
            ],
        )
        .await;
    assert_eq!(unknown.status, 400);
    assert!(unknown.text().contains("role=\"alert\""));
    // CLAIRE banks at 17515 only.
    let elsewhere = sbx
        .form(
            BCP,
            &[
                ("session", session),
                ("action", "login"),
                ("psu_id", "CLAIRE"),
            ],
        )
        .await;
    assert_eq!(elsewhere.status, 400);
    let otp = sbx
        .form(
            BCP,
            &[("session", session), ("action", "login"), ("psu_id", "lea")],
        )
        .await;
    assert_eq!(otp.status, 200);
    let wrong = sbx
        .form(
            BCP,
            &[("session", session), ("action", "otp"), ("otp", "00000000")],
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.text().contains("role=\"alert\""));
    let right = sbx
        .form(
            BCP,
            &[("session", session), ("action", "otp"), ("otp", "12345678")],
        )
        .await;
    assert_eq!(right.status, 302);
    assert!(right
        .header("location")
        .unwrap()
        .starts_with("https://tpp.example/callback?from=sandbox&code="));
}

#[actix_web::test]
async fn cancelling_returns_access_denied_with_the_state() {
    let sbx = Sandbox::start().await;
    let page = sbx.authorize_page(BCP, "aisp", Some("s-cancel")).await;
    let html = page.text();
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let session = &html[start..start + html[start..].find('"').unwrap()];
    let cancelled = sbx
        .form(BCP, &[("session", session), ("action", "cancel")])
        .await;
    assert_eq!(cancelled.status, 302);
    let location = url::Url::parse(&cancelled.header("location").unwrap()).unwrap();
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("error".into(), "access_denied".into())));
    assert!(pairs.contains(&("state".into(), "s-cancel".into())));
}

#[actix_web::test]
async fn codes_are_single_use_exact_redirect_without_scope_and_expire_after_an_hour() {
    let sbx = Sandbox::start().await;
    let exchange = |code: String, redirect: &'static str, scope: Option<&'static str>| {
        let sbx = &sbx;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code),
                ("client_id", CLIENT_ID.to_owned()),
                ("redirect_uri", redirect.to_owned()),
            ];
            if let Some(scope) = scope {
                form.push(("scope", scope.to_owned()));
            }
            let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            sbx.token_form(BCP, &fields).await
        }
    };
    let code = sbx.code(BCP, "LEA", "aisp").await;
    let with_scope = exchange(code.clone(), REDIRECT_URI, Some("aisp")).await;
    assert_eq!(with_scope.status, 400);
    assert_eq!(with_scope.json()["error"], "invalid_request");
    let code = sbx.code(BCP, "LEA", "aisp").await;
    let other_redirect = exchange(code, "https://tpp.example/callback", None).await;
    assert_eq!(other_redirect.json()["error"], "invalid_grant");
    let code = sbx.code(BCP, "LEA", "aisp").await;
    let first = exchange(code.clone(), REDIRECT_URI, None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["scope"], "aisp offline_access");
    let second = exchange(code, REDIRECT_URI, None).await;
    assert_eq!(second.json()["error"], "invalid_grant");
    let late = sbx.code(BCP, "LEA", "aisp").await;
    sbx.handle.clock.advance(Duration::from_secs(3601)).unwrap();
    assert_eq!(
        exchange(late, REDIRECT_URI, None).await.json()["error"],
        "invalid_grant"
    );
}

#[actix_web::test]
async fn pkce_s256_is_verified_when_a_challenge_was_sent() {
    let sbx = Sandbox::start().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(verifier.as_bytes()));
    let mut url = url::Url::parse(&sbx.url(BCP, "/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", "aisp")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let html = sbx.raw_get(url.as_str()).await.text();
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    let session = html[start..start + html[start..].find('"').unwrap()].to_owned();
    sbx.form(
        BCP,
        &[
            ("session", &session),
            ("action", "login"),
            ("psu_id", "LEA"),
        ],
    )
    .await;
    let done = sbx
        .form(
            BCP,
            &[
                ("session", &session),
                ("action", "otp"),
                ("otp", "12345678"),
            ],
        )
        .await;
    let location = url::Url::parse(&done.header("location").unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
    ];
    let mut wrong = base.to_vec();
    wrong.push((
        "code_verifier",
        "not-the-verifier-not-the-verifier-not-the-verifier",
    ));
    assert_eq!(sbx.token_form(BCP, &wrong).await.status, 400);
    // The failed attempt consumed the code (single use): a new dance is needed.
    let mut right = base.to_vec();
    right.push(("code_verifier", verifier));
    assert_eq!(
        sbx.token_form(BCP, &right).await.json()["error"],
        "invalid_grant"
    );
}

#[actix_web::test]
async fn refresh_rotates_and_the_old_tokens_die() {
    let sbx = Sandbox::start().await;
    let old = lea_with_consent(&sbx).await;
    let refresh = old.refresh.clone().unwrap();
    let rotated = sbx
        .token_form(
            BCP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", CLIENT_ID),
            ],
        )
        .await;
    assert_eq!(rotated.status, 200);
    let new = tokens(&rotated);
    assert_ne!(new.refresh.as_deref(), Some(refresh.as_str()));
    assert_eq!(sbx.send(balances(LEA_RID_1, &new.access)).await.status, 200);
    assert_eq!(sbx.send(balances(LEA_RID_1, &old.access)).await.status, 401);
    let replay = sbx
        .token_form(
            BCP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", CLIENT_ID),
            ],
        )
        .await;
    assert_eq!(replay.json()["error"], "invalid_grant");
}

#[actix_web::test]
async fn refresh_is_refused_once_the_last_sca_is_older_than_180_days() {
    let sbx = Sandbox::start().await;
    let tokens = lea_with_consent(&sbx).await;
    sbx.handle
        .clock
        .advance(Duration::from_secs(181 * 86_400))
        .unwrap();
    let response = sbx
        .token_form(
            BCP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh.as_deref().unwrap()),
                ("client_id", CLIENT_ID),
            ],
        )
        .await;
    assert_eq!(response.json()["error"], "invalid_grant");
}

#[actix_web::test]
async fn revoking_either_token_revokes_both() {
    let sbx = Sandbox::start().await;
    for which in ["refresh", "access"] {
        let tokens = lea_with_consent(&sbx).await;
        let token = if which == "refresh" {
            tokens.refresh.clone().unwrap()
        } else {
            tokens.access.clone()
        };
        let revoked = sbx
            .post_form(
                &sbx.url(BCP, "/oauth/revoke"),
                &[("token", &token), ("client_id", CLIENT_ID)],
            )
            .await;
        assert_eq!(revoked.status, 200);
        assert_eq!(
            sbx.send(balances(LEA_RID_1, &tokens.access)).await.status,
            401,
            "{which}"
        );
        let refresh = sbx
            .token_form(
                BCP,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", tokens.refresh.as_deref().unwrap()),
                    ("client_id", CLIENT_ID),
                ],
            )
            .await;
        assert_eq!(refresh.json()["error"], "invalid_grant", "{which}");
    }
}

#[actix_web::test]
async fn an_expired_access_token_answers_401_invalid_token() {
    let sbx = Sandbox::start_with(Duration::from_secs(30)).await;
    let tokens = lea_with_consent(&sbx).await;
    sbx.handle.clock.advance(Duration::from_secs(31)).unwrap();
    let response = sbx.send(balances(LEA_RID_1, &tokens.access)).await;
    assert_eq!(response.status, 401);
    assert!(response
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(response.json()["error"], "invalid_token");
}

#[actix_web::test]
async fn georges_connects_both_banks() {
    let sbx = Sandbox::start().await;
    let bcp = sbx.login(BCP, "GEORGES", "aisp").await.access;
    let ce = sbx.login(CE, "GEORGES", "aisp").await.access;
    let at_bcp = sbx.send(Call::get(BCP, "/accounts", &bcp)).await.json();
    let at_ce = sbx.send(Call::get(CE, "/accounts", &ce)).await.json();
    assert_eq!(at_bcp["accounts"][0]["accountId"]["iban"], GEORGES_IBAN);
    assert_eq!(
        at_ce["accounts"][0]["accountId"]["iban"],
        "FR6117515000930087654321012"
    );
}

#[actix_web::test]
async fn a_pending_transaction_books_with_the_same_entry_reference_as_the_clock_moves() {
    let sbx = Sandbox::start().await;
    let tokens = lea_with_consent(&sbx).await;
    let token = tokens.access.clone();
    let path = format!("/accounts/{LEA_RID_1}/transactions");
    let before = sbx.send(Call::get(BCP, path.clone(), &token)).await.json();
    let pending: Vec<Value> = before["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "OTHR")
        .cloned()
        .collect();
    assert!(!pending.is_empty());
    let reference = pending[0]["entryReference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 40);
    let count_before = before["transactions"].as_array().unwrap().len();
    sbx.handle
        .clock
        .advance(Duration::from_secs(10 * 86_400))
        .unwrap();
    // The access token has expired meanwhile: refresh it, as a sync would.
    let refreshed = sbx
        .token_form(
            BCP,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh.as_deref().unwrap()),
                ("client_id", CLIENT_ID),
            ],
        )
        .await;
    let token = common::sandbox::tokens(&refreshed).access;
    let after = sbx.send(Call::get(BCP, path, &token)).await.json();
    let booked = after["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["entryReference"] == reference.as_str())
        .expect("the pending transaction is still listed");
    assert_eq!(booked["status"], "BOOK");
    assert_eq!(booked["transactionAmount"], pending[0]["transactionAmount"]);
    let newer = after["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| {
            !before["transactions"].as_array().unwrap().iter().any(|b| {
                b["entryReference"] == t["entryReference"]
                    && !t["entryReference"].as_str().unwrap().is_empty()
            })
        })
        .count();
    assert!(newer > 0, "new transactions appear ({count_before} before)");
}

#[actix_web::test]
async fn a_payment_goes_to_acsc_and_cannot_be_confirmed_twice() {
    let sbx = Sandbox::start().await;
    let token = sbx.pisp_token(BCP).await;
    let (id, back) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, "12.25"))
        .await;
    // The user's authorization code rides on the report URL (for the `o-confirmation`).
    assert!(
        back.starts_with("https://tpp.example/payments/ok?code="),
        "{back}"
    );
    let path = format!("/payment-requests/{id}");
    let status = |v: &Value| {
        v["paymentRequest"]["paymentInformationStatus"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        status(&sbx.send(Call::get(BCP, path.clone(), &token)).await.json()),
        "ACCP"
    );
    let confirm =
        || Call::new(Method::POST, BCP, format!("{path}/confirmation"), &token).json(&json!({}));
    let confirmed = sbx.send(confirm()).await;
    assert_eq!(status(&confirmed.json()), "ACSP");
    assert_eq!(sbx.send(confirm()).await.status, 409);
    sbx.handle.clock.advance(Duration::from_secs(10)).unwrap();
    assert_eq!(
        status(&sbx.send(Call::get(BCP, path.clone(), &token)).await.json()),
        "ACSC"
    );
}

#[actix_web::test]
async fn a_payment_above_the_balance_is_rejected() {
    let sbx = Sandbox::start().await;
    let token = sbx.pisp_token(BCP).await;
    // LEA's first account is at -150.00.
    let (id, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_1, "50.00"))
        .await;
    let confirmed = sbx
        .send(
            Call::new(
                Method::POST,
                BCP,
                format!("/payment-requests/{id}/confirmation"),
                &token,
            )
            .json(&json!({})),
        )
        .await;
    assert_eq!(
        confirmed.json()["paymentRequest"]["paymentInformationStatus"],
        "RJCT"
    );
}

#[actix_web::test]
async fn o_confirmation_takes_the_psus_token() {
    let sbx = Sandbox::start().await;
    let (id, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, "5.00"))
        .await;
    let psu = sbx.login(BCP, "LEA", "pisp").await.access;
    let path = format!("/payment-requests/{id}/o-confirmation");
    let empty = sbx
        .send(Call::new(Method::POST, BCP, path.clone(), &psu))
        .await;
    assert_eq!(empty.status, 400, "the body is required, {{}} if empty");
    let confirmed = sbx
        .send(Call::new(Method::POST, BCP, path, &psu).json(&json!({})))
        .await;
    assert_eq!(confirmed.status, 200);
    assert_eq!(
        confirmed.json()["paymentRequest"]["paymentInformationStatus"],
        "ACSP"
    );
}

/// Asks, with a `cbpii` token, whether LEA's second account covers `amount`; returns `result`.
async fn covered(sbx: &Sandbox, token: &str, amount: &str) -> Value {
    let answer = sbx
        .send(
            Call::new(Method::POST, BCP, "/funds-confirmations", token).json(&json!({
                "paymentCoverageRequestId": "cov-1",
                "instructedAmount": {"currency": "EUR", "amount": amount},
                "accountId": {"iban": LEA_IBAN_2}
            })),
        )
        .await;
    answer.json()["result"].clone()
}

#[actix_web::test]
async fn funds_confirmation_compares_with_the_booked_balance() {
    let sbx = Sandbox::start().await;
    let token = sbx.login(BCP, "LEA", "cbpii").await.access;
    assert_eq!(covered(&sbx, &token, "100.00").await, true);
    assert_eq!(covered(&sbx, &token, "999999.00").await, false);
}

#[actix_web::test]
async fn faults_are_injected_per_run_and_cleared() {
    let sbx = Sandbox::start().await;
    let token = lea_with_consent(&sbx).await.access;
    let faults = &sbx.handle.faults;
    let accounts = || Call::get(BCP, "/accounts", &token);

    faults.set(FaultPlan {
        server_error_permille: 1000,
        ..FaultPlan::default()
    });
    for _ in 0..2 {
        let response = sbx.send(accounts()).await;
        assert!(matches!(response.status, 500 | 503), "{}", response.status);
        assert_eq!(response.header("retry-after").as_deref(), Some("1"));
    }
    faults.set(FaultPlan {
        too_many_requests_permille: 1000,
        ..FaultPlan::default()
    });
    assert_eq!(sbx.send(accounts()).await.status, 429);
    faults.set(FaultPlan {
        malformed_json_permille: 1000,
        ..FaultPlan::default()
    });
    let malformed = sbx.send(accounts()).await;
    assert_eq!(malformed.status, 200);
    assert!(serde_json::from_slice::<Value>(&malformed.body).is_err());
    faults.set(FaultPlan {
        drop_connection_permille: 1000,
        ..FaultPlan::default()
    });
    assert!(sbx
        .try_send(&sbx.client, &sbx.signer, accounts())
        .await
        .is_err());
    faults.set(FaultPlan {
        latency: Duration::from_millis(300),
        ..FaultPlan::default()
    });
    let started = Instant::now();
    assert_eq!(sbx.send(accounts()).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    faults.set(FaultPlan {
        revoke_token_permille: 1000,
        ..FaultPlan::default()
    });
    assert_eq!(sbx.send(accounts()).await.status, 401);
    faults.clear();
    assert_eq!(
        sbx.send(accounts()).await.status,
        401,
        "the revoked token stays revoked"
    );
    let fresh = sbx.login(BCP, "LEA", "aisp").await.access;
    assert_eq!(
        sbx.send(Call::get(BCP, "/accounts", &fresh)).await.status,
        200
    );
}

/// Confirms payment `id` with the TPP's token; returns the payment's status after it.
async fn confirm(sbx: &Sandbox, token: &str, id: &str) -> Value {
    let confirmed = sbx
        .send(
            Call::new(
                Method::POST,
                BCP,
                format!("/payment-requests/{id}/confirmation"),
                token,
            )
            .json(&json!({})),
        )
        .await;
    confirmed.json()["paymentRequest"]["paymentInformationStatus"].clone()
}

fn clbd(balances: &Value) -> i64 {
    let amount = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["balanceType"] == "CLBD")
        .unwrap()["balanceAmount"]["amount"]
        .as_str()
        .unwrap()
        .to_owned();
    let (units, cents) = amount.split_once('.').unwrap();
    let sign = if units.starts_with('-') { -1 } else { 1 };
    units.parse::<i64>().unwrap() * 100 + sign * cents.parse::<i64>().unwrap()
}

fn signed_cents(t: &Value) -> i64 {
    let amount = t["transactionAmount"]["amount"].as_str().unwrap();
    let (units, cents) = amount.split_once('.').unwrap_or((amount, "0"));
    let value =
        units.parse::<i64>().unwrap() * 100 + format!("{cents:0<2}").parse::<i64>().unwrap();
    if t["creditDebitIndicator"] == "DBIT" {
        -value
    } else {
        value
    }
}

/// A confirmed payment is a transaction of the debtor's account: not booked until executed, then
/// booked with the same reference, and the booked balance moves by exactly what booked.
#[actix_web::test]
async fn an_executed_payment_shows_in_the_debtors_history_and_lowers_the_booked_balance() {
    let sbx = Sandbox::start().await;
    let aisp = lea_with_consent(&sbx).await.access;
    let pisp = sbx.pisp_token(BCP).await;
    let (id, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, "12.25"))
        .await;
    assert_eq!(confirm(&sbx, &pisp, &id).await, "ACSP");
    let history = format!("/accounts/{LEA_RID_2}/transactions");
    let ours = |list: &Value| {
        list["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["remittanceInformation"][0] == "VIR SEPA EMIS MARCHAND SA")
            .cloned()
    };
    let before = sbx
        .send(Call::get(BCP, history.clone(), &aisp))
        .await
        .json();
    let balance_before = clbd(&sbx.send(balances(LEA_RID_2, &aisp)).await.json());
    let pending = ours(&before).expect("the payment is listed once confirmed");
    assert_eq!(pending["status"], "OTHR");
    assert_eq!(signed_cents(&pending), -1225);
    let reference = pending["entryReference"].as_str().unwrap().to_owned();
    assert_eq!(reference.len(), 40);

    sbx.handle.clock.advance(Duration::from_secs(10)).unwrap();
    let after = sbx.send(Call::get(BCP, history, &aisp)).await.json();
    let balance_after = clbd(&sbx.send(balances(LEA_RID_2, &aisp)).await.json());
    let booked = ours(&after).unwrap();
    assert_eq!(booked["status"], "BOOK");
    assert_eq!(booked["entryReference"], reference.as_str());
    // Whatever else booked in those ten seconds moved the balance too: count it all.
    let was_booked = |t: &Value| {
        before["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["entryReference"] == t["entryReference"] && b["status"] == "BOOK")
    };
    let newly_booked: i64 = after["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "BOOK" && !was_booked(t))
        .map(signed_cents)
        .sum();
    assert!(newly_booked <= -1225, "ours is among them");
    assert_eq!(balance_after - balance_before, newly_booked);
}

/// Two payments confirmed before either is executed cannot spend the same money, and funds
/// confirmation gives the same answer.
#[actix_web::test]
async fn payments_not_yet_executed_count_against_what_the_account_may_spend() {
    let sbx = Sandbox::start().await;
    let aisp = lea_with_consent(&sbx).await.access;
    let pisp = sbx.pisp_token(BCP).await;
    let balance = clbd(&sbx.send(balances(LEA_RID_2, &aisp)).await.json());
    assert!(balance > 1_000, "LEA's second account is in credit");
    let most = format!("{}.{:02}", (balance - 500) / 100, (balance - 500) % 100);
    let (first, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, &most))
        .await;
    assert_eq!(confirm(&sbx, &pisp, &first).await, "ACSP");

    let cbpii = sbx.login(BCP, "LEA", "cbpii").await.access;
    assert_eq!(covered(&sbx, &cbpii, "4.00").await, true);
    assert_eq!(covered(&sbx, &cbpii, "10.00").await, false);

    let (second, _) = sbx
        .approved_payment(BCP, "LEA", &payment_request(LEA_IBAN_2, "10.00"))
        .await;
    assert_eq!(confirm(&sbx, &pisp, &second).await, "RJCT");
    let rejected = sbx
        .send(Call::get(BCP, format!("/payment-requests/{second}"), &pisp))
        .await
        .json();
    assert_eq!(
        rejected["paymentRequest"]["statusReasonInformation"],
        "MS03"
    );
}
