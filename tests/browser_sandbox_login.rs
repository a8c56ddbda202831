//! The sandbox bank's login pages in a real headless Chromium: a PSU types the online id and the
//! SMS code, and the browser lands on the TPP's redirect target with a code that the token
//! endpoint accepts; a wrong code can be retried; a cancel answers `access_denied`.
//!
//! The TPP's redirect target is a tiny local server on plain loopback HTTP that records every
//! query it receives. Skips (with a message) where Chromium is not installed, except under
//! `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::browser::{Browser, RedirectTarget};
use common::sandbox::*;

/// The sandbox, the TPP's redirect target and a browser trusting the sandbox's pages; `None`
/// when Chromium is not installed (outside CI).
async fn setup() -> Option<(Sandbox, RedirectTarget, Browser)> {
    let sbx = Sandbox::start().await;
    let browser = Browser::start_trusting(&[&sbx.certs.sandbox_cert]).await?;
    Some((sbx, RedirectTarget::start(), browser))
}

fn random_state() -> String {
    format!("st-{}", uuid::Uuid::new_v4().simple())
}

/// The sandbox's authorize URL on its pages listener, as a TPP would send the PSU to it.
fn authorize_url(sbx: &Sandbox, bank: &str, redirect_uri: &str, state: &str) -> String {
    let mut url = url::Url::parse(&format!(
        "{}/banks/{bank}/stet/psd2/oauth/authorize",
        sbx.handle.web_url()
    ))
    .unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "aisp")
        .append_pair("state", state);
    url.into()
}

fn query_value(url: &url::Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn on_target(target: &RedirectTarget) -> impl Fn(&url::Url) -> bool + '_ {
    move |url: &url::Url| url.as_str().starts_with(&target.url)
}

const WAIT: Duration = Duration::from_secs(20);

#[actix_web::test]
async fn login_in_the_browser_gives_a_code_the_token_endpoint_accepts() {
    let Some((sbx, target, mut browser)) = setup().await else {
        return;
    };
    let state = random_state();

    browser
        .goto(&authorize_url(&sbx, BCP, &target.url, &state))
        .await;
    assert!(browser.title().await.contains("connexion"));
    browser.fill("#psu_id", "LEA").await;
    browser.click("button[name=action][value=login]").await;
    // The OTP page must come (the step fails with a screenshot if it does not).
    browser.wait_for("#otp", WAIT).await;
    browser.fill("#otp", "12345678").await;
    browser.click("button[name=action][value=otp]").await;

    let landed = browser
        .wait_for_url("the TPP's redirect target", WAIT, on_target(&target))
        .await;
    assert_eq!(
        query_value(&landed, "state").as_deref(),
        Some(state.as_str())
    );
    let code = query_value(&landed, "code").expect("a code in the redirect");
    assert_eq!(query_value(&landed, "error"), None);
    assert!(browser.page_source().await.contains("received"));
    let received = target.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0], landed.query().unwrap());

    // The browser-issued code is real: the token endpoint (mutual TLS) exchanges it, and the
    // token reads LEA's accounts.
    let exchanged = sbx
        .token_form(
            BCP,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", CLIENT_ID),
                ("redirect_uri", &target.url),
            ],
        )
        .await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.text());
    let tokens = tokens(&exchanged);
    assert!(!tokens.access.is_empty());
    let accounts = sbx.send(Call::get(BCP, "/accounts", &tokens.access)).await;
    assert_eq!(accounts.status, 200, "{}", accounts.text());
    assert!(accounts.text().contains(LEA_IBAN_1), "{}", accounts.text());

    browser.quit().await;
    target.server.stop(true).await;
}

#[actix_web::test]
async fn a_wrong_otp_shows_an_error_and_the_retry_succeeds() {
    let Some((sbx, target, mut browser)) = setup().await else {
        return;
    };
    let state = random_state();

    browser
        .goto(&authorize_url(&sbx, BCP, &target.url, &state))
        .await;
    browser.fill("#psu_id", "LEA").await;
    browser.click("button[name=action][value=login]").await;
    browser.fill("#otp", "00000000").await;
    browser.click("button[name=action][value=otp]").await;

    let error = browser.text("[role=alert]").await;
    assert!(error.contains("Code incorrect"), "{error}");
    assert!(!on_target(&target)(&browser.current_url().await));
    assert!(target.received().is_empty());

    browser.fill("#otp", "12345678").await;
    browser.click("button[name=action][value=otp]").await;
    let landed = browser
        .wait_for_url("the TPP's redirect target", WAIT, on_target(&target))
        .await;
    assert!(query_value(&landed, "code").is_some(), "{landed}");
    assert_eq!(
        query_value(&landed, "state").as_deref(),
        Some(state.as_str())
    );

    browser.quit().await;
    target.server.stop(true).await;
}

#[actix_web::test]
async fn cancel_at_the_bank_sends_access_denied() {
    let Some((sbx, target, mut browser)) = setup().await else {
        return;
    };
    let state = random_state();

    browser
        .goto(&authorize_url(&sbx, BCP, &target.url, &state))
        .await;
    browser.click("button[name=action][value=cancel]").await;

    let landed = browser
        .wait_for_url("the TPP's redirect target", WAIT, on_target(&target))
        .await;
    assert_eq!(
        query_value(&landed, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_value(&landed, "state").as_deref(),
        Some(state.as_str())
    );
    assert_eq!(query_value(&landed, "code"), None);
    assert_eq!(target.received().len(), 1);

    browser.quit().await;
    target.server.stop(true).await;
}
