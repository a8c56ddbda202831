//! The journey as an attack surface: every state and form is bound to the browser that started
//! the journey; finishing or failing a journey kills the connection's other links, states and
//! forms; a consent change needs the PSU; pages refuse framing and cross-site posts; the first
//! sync and the activation commit together.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::http_browser::{
    api, bank_cancel, bank_login, between, connect, consent_all, new_connection, reauthorize,
    to_bank, HttpBrowser,
};
use common::{TestApp, TestDb};
use passerelle::connect::tokens::{load_tokens, TokenError};
use passerelle::store::{self, audit, DatabaseUrl};
use serde_json::json;

/// A copy of the sandbox BCP profile whose bank takes no PKCE, like every live BPCE profile.
const NO_PKCE_BANK: &str = "sandbox-bcp-nopkce";

async fn spawn_with_a_no_pkce_bank(db: TestDb) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let profile = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bank-registry/sandbox-bcp.toml"
    ))
    .unwrap()
    .replace("id = \"sandbox-bcp\"", &format!("id = \"{NO_PKCE_BANK}\""))
    .replace("Banque BCP (sandbox)", "Banque BCP (sandbox, no PKCE)")
    .replace("pkce = true", "pkce = false");
    assert!(profile.contains("pkce = false"));
    std::fs::write(dir.path().join(format!("{NO_PKCE_BANK}.toml")), profile).unwrap();
    let folder = dir.path().to_path_buf();
    let app = TestApp::spawn_with_sandbox_and(db, |config| config.bank_registry.push(folder)).await;
    (app, dir)
}

async fn has_tokens(app: &TestApp, id: &str) -> bool {
    let (keyring, id) = (app.state.keyring.clone(), id.to_owned());
    match store::run_with(&app.state.pool, move |conn| {
        load_tokens(conn, &keyring, &id)
    })
    .await
    {
        Ok(_) => true,
        Err(TokenError::Missing) => false,
        Err(e) => panic!("{e}"),
    }
}

async fn audit_actions(app: &TestApp, id: &str) -> Vec<(String, String, String)> {
    let id = id.to_owned();
    store::run(&app.state.pool, move |conn| {
        Ok(audit::for_connection(conn, &id)?)
    })
    .await
    .unwrap()
    .into_iter()
    .map(|e| (e.actor, e.action, e.details))
    .collect()
}

#[actix_web::test]
async fn a_code_cannot_be_redeemed_in_another_browser_at_a_bank_without_pkce() {
    for db in TestDb::all() {
        let (app, _registry) = spawn_with_a_no_pkce_bank(db).await;

        // The attacker starts a journey for their own connection and sends the victim the
        // bank's login URL (their state inside). The victim signs in; the bank sends the
        // victim's browser back with the victim's code and the attacker's state.
        let attacker = HttpBrowser::new(&app);
        let (mallory, connect_url) = new_connection(&app, "mallory", NO_PKCE_BANK).await;
        let authorize = to_bank(&attacker, &connect_url).await;
        assert!(
            !authorize.contains("code_challenge"),
            "no PKCE at this bank"
        );
        let victim = HttpBrowser::new(&app);
        let callback = bank_login(&victim, &authorize, "LEA").await;
        let refused = victim.get(&callback).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(
            refused.body.contains("autre navigateur"),
            "{}",
            refused.body
        );
        // Nor can the attacker use the victim's code in their own browser afterwards.
        let replayed = attacker.get(&callback).await;
        assert_eq!(replayed.status, 400);
        assert!(!has_tokens(&app, &mallory).await, "no token stored");
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{mallory}"), None).await;
        assert_eq!(connection["status"], "pending");
        assert_eq!(connection["accounts"], json!([]));

        // A callback URL that leaks (the victim's code and state) is worthless elsewhere.
        let owner = HttpBrowser::new(&app);
        let (lea, connect_url) = new_connection(&app, "lea", NO_PKCE_BANK).await;
        let authorize = to_bank(&owner, &connect_url).await;
        let callback = bank_login(&owner, &authorize, "LEA").await;
        let stolen = attacker.get(&callback).await;
        assert_eq!(stolen.status, 400);
        assert!(!has_tokens(&app, &lea).await);

        // Without the attack the same bank works, cookie and all.
        let id = connect(&app, &owner, "lea2", NO_PKCE_BANK, "LEA").await;
        assert!(has_tokens(&app, &id).await);
    }
}

#[actix_web::test]
async fn finishing_a_journey_kills_the_other_states_of_its_connection() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
        // Someone else who read the link takes a state from it first…
        let other = HttpBrowser::new(&app);
        let early = to_bank(&other, &connect_url).await;
        // …the PSU finishes the journey…
        let psu = HttpBrowser::new(&app);
        let authorize = to_bank(&psu, &connect_url).await;
        let callback = bank_login(&psu, &authorize, "LEA").await;
        let consent = psu.get(&callback).await;
        assert!(consent_all(&app, &psu, &consent)
            .await
            .ends_with("status=active"));
        // …and the early state can no longer bring a second bank customer in.
        let late = bank_login(&other, &early, "GEORGES").await;
        let refused = other.get(&late).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        let (_, accounts) = api(&app, "GET", "/v1/users/lea/accounts", None).await;
        for account in accounts["accounts"].as_array().unwrap() {
            assert!(
                account["iban"]
                    .as_str()
                    .unwrap()
                    .starts_with("FR7612579000920400"),
                "only LEA's accounts: {account}"
            );
        }
        let actions = audit_actions(&app, &id).await;
        let authorized = actions
            .iter()
            .filter(|(_, a, _)| a == "consent.authorized" || a == "consent.reauthorized")
            .count();
        assert_eq!(authorized, 1, "{actions:?}");
    }
}

#[actix_web::test]
async fn a_journey_that_ended_in_error_cannot_complete_later() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
        let first = to_bank(&browser, &connect_url).await;
        let second = to_bank(&browser, &connect_url).await;
        // The PSU cancels at the bank: the app is told `error`.
        let cancelled = bank_cancel(&browser, &first).await;
        let back = browser.get(&cancelled.location.unwrap()).await;
        assert!(back
            .location
            .unwrap()
            .ends_with("status=error&error=access_denied"));
        // The link and the other state died with it.
        assert_eq!(browser.get(&connect_url).await.status, 410);
        assert_eq!(browser.post(&connect_url, &[]).await.status, 410);
        let late = bank_login(&browser, &second, "LEA").await;
        assert_eq!(browser.get(&late).await.status, 400);
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(connection["status"], "error");
        assert!(!has_tokens(&app, &id).await);

        // Retrying is an explicit new link.
        let retry = reauthorize(&app, &id).await;
        let authorize = to_bank(&browser, &retry).await;
        let callback = bank_login(&browser, &authorize, "LEA").await;
        let consent = browser.get(&callback).await;
        assert!(consent_all(&app, &browser, &consent)
            .await
            .ends_with("status=active"));
    }
}

#[actix_web::test]
async fn a_consent_change_needs_the_psu() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let psu = HttpBrowser::new(&app);
        let id = connect(&app, &psu, "lea", "sandbox-bcp", "LEA").await;
        let sandbox_web = app.sandbox.as_ref().unwrap().web_url();

        // Whoever holds the link without the PSU's browser (the app itself, or anyone who read
        // the link) is sent to the bank for a new SCA, never to the consent page.
        let link = reauthorize(&app, &id).await;
        for stranger in [HttpBrowser::new(&app), HttpBrowser::new(&app)] {
            let page = stranger.post(&link, &[]).await;
            assert_eq!(page.status, 303, "{}", page.body);
            assert!(page.location.unwrap().starts_with(&sandbox_web));
        }
        // Forwarded PSU headers prove nothing either.
        let app_client = HttpBrowser::new(&app);
        let page = app_client
            .post_with(
                &link,
                &[],
                &[
                    ("PSU-IP-Address", "192.0.2.7"),
                    ("X-Forwarded-For", "192.0.2.7"),
                ],
            )
            .await;
        assert_eq!(page.status, 303);

        // The browser that passed SCA minutes ago may change what is shared right away.
        let link = reauthorize(&app, &id).await;
        let consent = psu.post(&link, &[]).await;
        assert_eq!(consent.status, 200, "{:?}", consent.location);
        assert!(consent_all(&app, &psu, &consent)
            .await
            .ends_with("status=active"));
        let actions = audit_actions(&app, &id).await;
        let (actor, action, details) = actions.last().unwrap();
        assert_eq!(
            (actor.as_str(), action.as_str()),
            ("psu", "consent.changed")
        );
        assert!(details.contains("\"proof\":\"same_browser\""), "{details}");

        // Later than the window, the same browser goes through the bank again.
        let conn_id = id.clone();
        store::run(&app.state.pool, move |conn| {
            use diesel::prelude::*;
            use passerelle::store::schema::connections;
            diesel::update(connections::table.find(conn_id))
                .set(connections::sca_at.eq(store::now() - chrono::Duration::minutes(16)))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
        let link = reauthorize(&app, &id).await;
        let page = psu.post(&link, &[]).await;
        assert_eq!(page.status, 303);
        let callback = bank_login(&psu, &page.location.unwrap(), "LEA").await;
        let consent = psu.get(&callback).await;
        consent_all(&app, &psu, &consent).await;
        let actions = audit_actions(&app, &id).await;
        let n = actions.len();
        assert_eq!(actions[n - 2].1, "consent.reauthorized");
        assert!(actions[n - 1].2.contains("\"proof\":\"sca\""));
    }
}

#[actix_web::test]
async fn journey_pages_refuse_framing_and_cross_site_posts() {
    let app = TestApp::spawn_with_sandbox(TestDb::sqlite()).await;
    let browser = HttpBrowser::new(&app);
    let (_, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
    let page = browser.get(&connect_url).await;
    let header = |name: &str| {
        page.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert!(header("content-security-policy").contains("default-src 'none'"));
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-content-type-options"), "nosniff");
    // Other methods on the journey's pages are refused as such, not as unknown paths.
    let client = awc::Client::default();
    for (method, path) in [
        ("TRACE", connect_url.clone()),
        ("PUT", connect_url.clone()),
        ("TRACE", app.url("/callback")),
        ("GET", app.url("/consent/0000")),
    ] {
        let response = client
            .request(method.parse().unwrap(), &path)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert!(response.headers().contains_key("allow"));
    }

    // Another site's form cannot start or cancel the journey…
    for headers in [
        &[("Origin", "https://evil.example")][..],
        &[("Sec-Fetch-Site", "cross-site")][..],
        &[("Sec-Fetch-Site", "same-site"), ("Origin", "null")][..],
    ] {
        let refused = browser
            .post_with(&connect_url, &[("cancel", "1")], headers)
            .await;
        assert_eq!(refused.status, 403, "{headers:?}");
    }
    assert_eq!(
        browser.get(&connect_url).await.status,
        200,
        "the link lives on"
    );
    // …while the page's own form works.
    let own = app.address.clone();
    let go = browser
        .post_with(
            &connect_url,
            &[],
            &[("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
        )
        .await;
    assert_eq!(go.status, 303);
    let cookie = go
        .set_cookie
        .iter()
        .find(|c| c.starts_with("passerelle_journey="))
        .expect("the journey cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain-http loopback: {cookie}");

    // The consent page (its URL carries the code and the state) and its form.
    let callback = bank_login(&browser, &go.location.unwrap(), "LEA").await;
    let consent = browser.get(&callback).await;
    assert_eq!(
        consent.headers.get("referrer-policy").unwrap(),
        "no-referrer"
    );
    let action = between(&consent.body, "action=\"", "\"").to_owned();
    let refused = browser
        .post_with(
            &app.url(&action),
            &[],
            &[("Origin", "https://evil.example")],
        )
        .await;
    assert_eq!(refused.status, 403);
    // A browser without the journey's cookie cannot submit it either.
    let stranger = HttpBrowser::new(&app);
    assert_eq!(stranger.post(&app.url(&action), &[]).await.status, 410);
}

/// Makes the database refuse any connection's activation, as a process killed right before it
/// would: the first sync's data must not be stored without it.
async fn refuse_activation(app: &TestApp) {
    let statements: &[&str] = match &app.db.url {
        DatabaseUrl::Sqlite(_) => &[
            "CREATE TRIGGER refuse_activation BEFORE UPDATE OF status ON connections \
             WHEN NEW.status = 'active' BEGIN SELECT RAISE(ABORT, 'simulated crash'); END",
        ],
        DatabaseUrl::Postgres(_) => &[
            "CREATE FUNCTION refuse_activation() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN IF NEW.status = 'active' THEN RAISE EXCEPTION 'simulated crash'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER refuse_activation BEFORE UPDATE ON connections \
             FOR EACH ROW EXECUTE FUNCTION refuse_activation()",
        ],
    };
    let statements: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
    store::run(&app.state.pool, move |conn| {
        use diesel::RunQueryDsl;
        for statement in statements {
            diesel::sql_query(statement).execute(conn)?;
        }
        Ok(())
    })
    .await
    .unwrap();
}

#[actix_web::test]
async fn the_first_sync_and_the_activation_commit_together() {
    for db in TestDb::all() {
        let app = TestApp::spawn_with_sandbox(db).await;
        let browser = HttpBrowser::new(&app);
        let (id, connect_url) = new_connection(&app, "lea", "sandbox-bcp").await;
        let authorize = to_bank(&browser, &connect_url).await;
        let callback = bank_login(&browser, &authorize, "LEA").await;
        let consent = browser.get(&callback).await;
        refuse_activation(&app).await;
        let back = consent_all(&app, &browser, &consent).await;
        assert!(back.ends_with("status=error&error=sync_failed"), "{back}");
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{id}"), None).await;
        assert_eq!(connection["status"], "error");
        assert_eq!(
            connection["accounts"],
            json!([]),
            "no data without activation"
        );
        assert!(connection["last_synced_at"].is_null());
        let (_, accounts) = api(&app, "GET", "/v1/users/lea/accounts", None).await;
        assert_eq!(accounts["accounts"], json!([]));
    }
}

#[actix_web::test]
async fn a_journey_interrupted_after_the_sca_is_failed_not_left_pending() {
    use diesel::prelude::*;
    use passerelle::connect::expiry::fail_interrupted;
    use passerelle::store::schema::{connections, sca_challenges};
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let (crashed, _) = new_connection(&app, "lea", "test-bcp").await;
        let (recent, _) = new_connection(&app, "lea", "test-bcp").await;
        let sweep = || async {
            store::run(&app.state.pool, |conn| {
                Ok(fail_interrupted(conn, store::now())?)
            })
            .await
            .unwrap()
        };
        let set_sca = |id: &str, minutes_ago: i64| {
            let id = id.to_owned();
            store::run(&app.state.pool, move |conn| {
                diesel::update(connections::table.find(id))
                    .set(
                        connections::sca_at
                            .eq(store::now() - chrono::Duration::minutes(minutes_ago)),
                    )
                    .execute(conn)?;
                Ok(())
            })
        };
        // Never past the SCA: the app's link is still waiting for the user.
        assert!(sweep().await.is_empty());
        // Past the SCA two hours ago, but its link is still live: not yet.
        set_sca(&crashed, 120).await.unwrap();
        set_sca(&recent, 10).await.unwrap();
        assert!(sweep().await.is_empty());
        // The process died after the consent: every form and link spent, nothing committed.
        store::run(&app.state.pool, |conn| {
            diesel::update(sca_challenges::table)
                .set(sca_challenges::consumed_at.eq(Some(store::now())))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!(sweep().await, vec![crashed.clone()]);
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{crashed}"), None).await;
        assert_eq!(
            (connection["status"].as_str(), connection["error"].as_str()),
            (Some("error"), Some("journey_interrupted"))
        );
        let (_, connection) = api(&app, "GET", &format!("/v1/connections/{recent}"), None).await;
        assert_eq!(
            connection["status"], "pending",
            "a journey in progress is left alone"
        );
        assert!(sweep().await.is_empty(), "settled once");
    }
}
