//! SimpleFIN Bridge against the sandbox, on SQLite and PostgreSQL, through a client written from
//! the published contract (setup token → claim → access URL → `GET /accounts` with HTTP Basic;
//! see the README's "Use with Actual Budget / Firefly III"), not from Passerelle's code: the
//! claim works once; accounts come with their bank, balances with exactly two decimals and
//! transactions; a pending row that books keeps its id, a released pre-authorisation
//! disappears; an expired consent is a readable error naming the bank; revoked credentials and
//! expired setup tokens answer 403.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use serde_json::Value;

use common::http_browser::{api, connect, HttpBrowser};
use common::sync::batch_sync;
use common::{worker, TestApp, TestDb};

const DAY: Duration = Duration::from_secs(86_400);

/// A SimpleFIN client as the apps implement it.
mod sfin {
    use std::time::Duration;

    use base64::Engine as _;
    use serde_json::Value;

    fn client() -> awc::Client {
        awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish()
    }

    /// Decodes the setup token and claims it: the access URL, or the refusal's status.
    pub async fn claim(setup_token: &str) -> Result<String, u16> {
        let claim_url = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(setup_token)
                .unwrap(),
        )
        .unwrap();
        // Firefly III's importer accepts only `^https?://.+/simplefin/claim/.+$`.
        let scheme_ok = claim_url.starts_with("http://") || claim_url.starts_with("https://");
        let (_, token) = claim_url.split_once("/simplefin/claim/").unwrap();
        assert!(scheme_ok && !token.is_empty(), "{claim_url}");
        let mut response = client().post(&claim_url).send().await.unwrap();
        let body = response.body().await.unwrap();
        match response.status().as_u16() {
            200 => Ok(String::from_utf8(body.to_vec()).unwrap()),
            status => Err(status),
        }
    }

    /// `GET {access}/accounts?{query}` with the access URL's credentials: status and JSON.
    pub async fn accounts(access: &str, query: &str) -> (u16, Value) {
        let mut url = url::Url::parse(access).unwrap();
        let user = url.username().to_owned();
        let pass = url.password().unwrap().to_owned();
        url.set_username("").unwrap();
        url.set_password(None).unwrap();
        let target = format!("{}/accounts?{query}", url.as_str().trim_end_matches('/'));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut response = client()
            .get(target)
            .insert_header(("Authorization", format!("Basic {basic}")))
            .send()
            .await
            .unwrap();
        let body = response.body().limit(1 << 22).await.unwrap();
        (
            response.status().as_u16(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }
}

fn transactions(set: &Value) -> Vec<Value> {
    set["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["transactions"].as_array().unwrap().clone())
        .collect()
}

fn find<'a>(rows: &'a [Value], id: &str) -> Option<&'a Value> {
    rows.iter().find(|t| t["id"] == id)
}

#[actix_web::test]
async fn an_app_claims_reads_keeps_ids_and_is_told_about_an_expired_consent() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let connection = connect(&app, &browser, "hugo", "sandbox-bcp", "HUGO").await;

        let (code, setup) = api(&app, "POST", "/v1/users/hugo/simplefin", None).await;
        assert_eq!(code, 201, "{setup}");
        let token = setup["setup_token"].as_str().unwrap();
        let access = sfin::claim(token).await.unwrap();
        assert!(
            access.contains("@"),
            "credentials in the access URL: {access}"
        );
        assert!(access.ends_with("/simplefin"), "{access}");
        assert_eq!(sfin::claim(token).await, Err(403), "claimed once");

        // Listing accounts, as Actual does first.
        let (code, listed) = sfin::accounts(&access, "balances-only=1").await;
        assert_eq!(code, 200, "{listed}");
        assert_eq!(listed["errors"], serde_json::json!([]));
        let accounts = listed["accounts"].as_array().unwrap();
        assert!(!accounts.is_empty());
        for account in accounts {
            assert_eq!(account["org"]["name"], "Banque BCP (sandbox)", "{account}");
            assert!(account["org"]["domain"].is_string());
            assert_eq!(account["currency"], "EUR");
            for key in ["balance", "available-balance"] {
                let amount = account[key].as_str().unwrap();
                let (_, decimals) = amount.split_once('.').unwrap();
                assert_eq!(decimals.len(), 2, "{key}: {amount}");
            }
            assert!(account["balance-date"].as_i64().unwrap() > 0);
            assert_eq!(account["transactions"], serde_json::json!([]));
            assert_eq!(account["holdings"], serde_json::json!([]));
        }

        // Syncing one account, as Actual does: a window, pending rows included.
        let start = app.state.clock.now().timestamp() - 90 * 86_400;
        let account_id = accounts[0]["id"].as_str().unwrap().to_owned();
        let window = format!("start-date={start}&pending=1&account={account_id}");
        let (_, day0) = sfin::accounts(&access, &window).await;
        assert_eq!(
            day0["accounts"].as_array().unwrap().len(),
            1,
            "account= filters"
        );
        let rows = transactions(&day0);
        for t in &rows {
            let amount = t["amount"].as_str().unwrap();
            assert_eq!(amount.split_once('.').unwrap().1.len(), 2, "{t}");
            if t["pending"] == true {
                assert_eq!(t["posted"], 0, "{t}");
                assert!(t["transacted_at"].as_i64().unwrap() > 0, "{t}");
            } else {
                assert!(t["posted"].as_i64().unwrap() > 0, "{t}");
            }
        }
        let paylib = rows
            .iter()
            .find(|t| {
                t["pending"] == true && t["description"].as_str().unwrap().starts_with("PAYLIB")
            })
            .expect("a pending Paylib row on day 0")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let preauth = rows
            .iter()
            .find(|t| {
                t["description"]
                    .as_str()
                    .unwrap()
                    .contains("PREAUTORISATION")
            })
            .expect("a pending pre-authorisation on day 0")["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_, booked_only) = sfin::accounts(&access, &format!("start-date={start}")).await;
        assert!(
            transactions(&booked_only)
                .iter()
                .all(|t| t["pending"] == false),
            "pending rows only with pending=1"
        );

        for _ in 0..3 {
            app.state.clock.advance(DAY).unwrap();
            batch_sync(&app, &connection).await.unwrap();
        }
        let (_, day3) = sfin::accounts(&access, &window).await;
        let rows = transactions(&day3);
        let booked = find(&rows, &paylib).expect("the Paylib row keeps its id");
        assert_eq!(booked["pending"], false, "{booked}");
        assert!(booked["posted"].as_i64().unwrap() > 0);
        assert!(
            find(&rows, &preauth).is_none(),
            "the released pre-authorisation is gone"
        );

        // The consent runs out: a readable error, naming the bank and what to do.
        app.state.clock.advance(DAY * 181).unwrap();
        let w = worker(&app, "sweep");
        w.drain().await.unwrap();
        app.state.clock.advance(Duration::from_secs(61)).unwrap();
        w.drain().await.unwrap();
        let (code, expired) = sfin::accounts(&access, "balances-only=1").await;
        assert_eq!(code, 200);
        let errors = expired["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{expired}");
        let line = errors[0].as_str().unwrap();
        assert!(
            line.contains("Banque BCP (sandbox)") && line.contains("reconnect"),
            "{line}"
        );

        // The API client sees the access used, and revokes it.
        let (_, list) = api(&app, "GET", "/v1/users/hugo/simplefin", None).await;
        let listed = &list["accesses"][0];
        assert!(
            listed["claimed_at"].is_string() && listed["last_used_at"].is_string(),
            "{list}"
        );
        let other = common::api::Api::new(&app, &app.other_tenant_key().await);
        let id = listed["id"].as_str().unwrap();
        let (code, _) = other
            .call("DELETE", &format!("/v1/simplefin/{id}"), None)
            .await;
        assert_eq!(code, 404, "another client's access is not found");
        let (code, _) = api(&app, "DELETE", &format!("/v1/simplefin/{id}"), None).await;
        assert_eq!(code, 204);
        let (code, _) = sfin::accounts(&access, "balances-only=1").await;
        assert_eq!(code, 403, "revoked credentials");
    }
}

#[actix_web::test]
async fn wrong_credentials_and_an_expired_setup_token_are_refused() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let (_, setup) = api(&app, "POST", "/v1/users/nobody/simplefin", None).await;
    let access = sfin::claim(setup["setup_token"].as_str().unwrap())
        .await
        .unwrap();
    let (code, empty) = sfin::accounts(&access, "").await;
    assert_eq!(code, 200, "a user without connections: {empty}");
    assert_eq!(empty["accounts"], serde_json::json!([]));
    let mut wrong = url::Url::parse(&access).unwrap();
    wrong.set_password(Some("not-the-password")).unwrap();
    assert_eq!(sfin::accounts(wrong.as_str(), "").await.0, 403);
    let (code, _) = sfin::accounts(&access, "start-date=yesterday").await;
    assert_eq!(code, 400);

    let (_, late) = api(&app, "POST", "/v1/users/nobody/simplefin", None).await;
    app.state
        .clock
        .advance(Duration::from_secs(61 * 60))
        .unwrap();
    assert_eq!(
        sfin::claim(late["setup_token"].as_str().unwrap()).await,
        Err(403)
    );
}
