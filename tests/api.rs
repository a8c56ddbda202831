//! The JSON API as a budgeting app uses it: connections, accounts, balances and the paged
//! transaction feed, with problem+json errors and strict tenancy, on every backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use common::api::{connected_account, new_connection_body, seed_account, Api};
use common::{TestApp, TestDb};
use serde_json::{json, Value};

use passerelle::store::models::TransactionRow;
use passerelle::store::{self, transactions};

#[actix_web::test]
async fn creating_a_connection_returns_a_connect_url_and_a_pending_connection() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let (status, created) = api
            .call(
                "POST",
                "/v1/users/u-1/connections",
                Some(new_connection_body()),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["status"], "pending");
        let connect_url = created["connect_url"].as_str().unwrap();
        assert!(connect_url.contains("/connect/"), "{connect_url}");
        assert!(created["expires_at"].is_string());

        let id = created["id"].as_str().unwrap();
        let (status, shown) = api
            .call("GET", &format!("/v1/connections/{id}"), None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(shown["user_id"], "u-1");
        assert_eq!(shown["bank_id"], "test-bcp");
        assert_eq!(shown["accounts"], json!([]));

        let (status, list) = api.call("GET", "/v1/users/u-1/connections", None).await;
        assert_eq!(status, 200);
        assert_eq!(list["connections"].as_array().unwrap().len(), 1);
    }
}

#[actix_web::test]
async fn invalid_requests_get_a_problem_naming_the_field_and_change_nothing() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let api = Api::new(&app, &app.api_key);
    let cases = [
        (
            json!({"bank_id": "no-such-bank", "redirect_url": "https://app.example/x"}),
            "bank_id",
        ),
        (
            json!({"bank_id": "test-bcp", "redirect_url": "https://evil.example/x"}),
            "redirect_url",
        ),
        (
            json!({"bank_id": "test-bcp", "redirect_url": "http://app.example/x"}),
            "redirect_url",
        ),
        (
            json!({"bank_id": "test-bcp", "redirect_url": "not a url"}),
            "redirect_url",
        ),
        (json!({"bank_id": "test-bcp"}), "body"),
        (
            json!({"bank_id": "test-bcp", "redirect_url": "https://app.example/x", "x": 1}),
            "body",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = api
            .call("POST", "/v1/users/u-1/connections", Some(body.clone()))
            .await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["code"], "validation_failed");
        assert_eq!(problem["field"], field, "{body}");
    }
    // A bank marked unusable (BPCE's live gateways retired STET 1.4.2) is refused, saying why.
    let (status, problem) = api
        .call(
            "POST",
            "/v1/users/u-1/connections",
            Some(
                json!({"bank_id": "banque-bcp", "redirect_url": "https://app.example/banks/done"}),
            ),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "bank_id");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("this bank cannot be used: BPCE's live gateways speak STET 1.6.2"),
        "{problem}"
    );
    let (status, _) = api.call("GET", "/v1/users/u-1/connections", None).await;
    assert_eq!(status, 404, "no user was created by the failed calls");
}

#[actix_web::test]
async fn another_api_key_sees_nothing_of_the_first_keys_users() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let mine = Api::new(&app, &app.api_key);
        let other_key = app.other_tenant_key().await;
        let theirs = Api::new(&app, &other_key);
        let (_, created) = mine
            .call(
                "POST",
                "/v1/users/u-1/connections",
                Some(new_connection_body()),
            )
            .await;
        let id = created["id"].as_str().unwrap();
        let account = seed_account(&app, id).await;

        for path in [
            format!("/v1/connections/{id}"),
            "/v1/users/u-1/connections".to_owned(),
            "/v1/users/u-1/accounts".to_owned(),
            format!("/v1/accounts/{account}"),
            format!("/v1/accounts/{account}/balances"),
            format!("/v1/accounts/{account}/transactions"),
        ] {
            let (status, problem) = theirs.call("GET", &path, None).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(problem["code"], "not_found");
            let (missing, _) = theirs
                .call(
                    "GET",
                    &path.replace(id, "nope").replace(&account, "nope"),
                    None,
                )
                .await;
            assert_eq!(missing, 404, "a missing id answers the same");
        }
        let (status, _) = theirs
            .call("DELETE", &format!("/v1/connections/{id}"), None)
            .await;
        assert_eq!(status, 404);
        let (status, _) = theirs
            .call("POST", &format!("/v1/connections/{id}/reauthorize"), None)
            .await;
        assert_eq!(status, 404);
        let (status, shown) = mine
            .call("GET", &format!("/v1/connections/{id}"), None)
            .await;
        assert_eq!(
            (status, shown["status"].as_str()),
            (200, Some("pending")),
            "untouched"
        );
    }
}

#[actix_web::test]
async fn revoking_wipes_the_tokens_audits_and_forbids_reauthorization() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let api = Api::new(&app, &app.api_key);
    let (_, created) = api
        .call(
            "POST",
            "/v1/users/u-1/connections",
            Some(new_connection_body()),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, link) = api
        .call("POST", &format!("/v1/connections/{id}/reauthorize"), None)
        .await;
    assert_eq!(status, 200);
    assert_ne!(link["connect_url"], created["connect_url"], "a fresh link");

    let (status, _) = api
        .call("DELETE", &format!("/v1/connections/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (_, shown) = api
        .call("GET", &format!("/v1/connections/{id}"), None)
        .await;
    assert_eq!(shown["status"], "revoked");
    let (status, problem) = api
        .call("POST", &format!("/v1/connections/{id}/reauthorize"), None)
        .await;
    assert_eq!((status, problem["code"].as_str()), (409, Some("conflict")));

    let pool = app.state.pool.clone();
    let log = store::run(&pool, move |conn| {
        Ok(store::audit::for_connection(conn, &id)?)
    })
    .await
    .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "consent.revoked");
}

#[actix_web::test]
async fn accounts_balances_and_the_transaction_feed_page_newest_first() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let account = connected_account(&api).await;

        let (status, list) = api.call("GET", "/v1/users/u-1/accounts", None).await;
        assert_eq!(status, 200);
        assert_eq!(list["accounts"][0]["id"], account.as_str());
        assert_eq!(
            list["accounts"][0]["iban_valid"], false,
            "kept though it fails mod-97"
        );

        let (status, balances) = api
            .call("GET", &format!("/v1/accounts/{account}/balances"), None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            balances["balances"][0]["amount"],
            json!({"value": "-150.00", "currency": "EUR"})
        );
        assert_eq!(balances["balances"][0]["type"], "booked");

        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/accounts/{account}/transactions?limit=100&cursor={c}"),
                None => format!("/v1/accounts/{account}/transactions?limit=100"),
            };
            let (status, page) = api.call("GET", &path, None).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(page["transactions"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 250);
        let mut ids: Vec<_> = seen.iter().map(|t| t["id"].as_str().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 250, "no transaction twice");
        let dates: Vec<_> = seen
            .iter()
            .map(|t| t["value_date"].as_str().unwrap().to_owned())
            .collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
        assert_eq!(seen[0]["status"], "pending");

        let (_, pending) = api
            .call(
                "GET",
                &format!("/v1/accounts/{account}/transactions?status=pending"),
                None,
            )
            .await;
        assert_eq!(pending["transactions"].as_array().unwrap().len(), 2);
        let (_, window) = api
            .call(
                "GET",
                &format!("/v1/accounts/{account}/transactions?from=2026-01-02&to=2026-01-03"),
                None,
            )
            .await;
        assert_eq!(
            window["transactions"].as_array().unwrap().len(),
            6,
            "three a day, bounds inclusive"
        );
        assert_eq!(window["transactions"][0]["amount"]["currency"], "EUR");
    }
}

#[actix_web::test]
async fn bad_feed_parameters_are_refused_naming_them() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let api = Api::new(&app, &app.api_key);
    let account = connected_account(&api).await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("status=lost", "status"),
        ("cursor=garbage!", "cursor"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=yesterday", "query"),
    ] {
        let (status, problem) = api
            .call(
                "GET",
                &format!("/v1/accounts/{account}/transactions?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{query}: {problem}");
        assert_eq!(problem["field"], field, "{query}");
    }
}

/// No stored id holds NUL, and PostgreSQL cannot even compare with one: such ids are not found
/// (and such a cursor is invalid) on every backend, never a 500.
#[actix_web::test]
async fn ids_holding_nul_are_not_found_on_every_backend() {
    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let account = connected_account(&api).await;
        for (method, path) in [
            ("GET", "/v1/connections/a%00b"),
            ("DELETE", "/v1/connections/a%00b"),
            ("POST", "/v1/connections/a%00b/reauthorize"),
            ("GET", "/v1/accounts/a%00b"),
            ("GET", "/v1/accounts/a%00b/balances"),
            ("GET", "/v1/accounts/a%00b/transactions"),
        ] {
            let (status, problem) = api.call(method, path, None).await;
            assert_eq!(status, 404, "{method} {path}: {problem}");
            assert_eq!(problem["code"], "not_found");
        }
        let cursor = URL_SAFE_NO_PAD.encode("2026-01-01|a\0b");
        let (status, problem) = api
            .call(
                "GET",
                &format!("/v1/accounts/{account}/transactions?cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], "cursor");
    }
}

/// The feed's page cache is checked against the account's feed version, which the database's
/// triggers move: a write through a connection of its own (as another process would make)
/// shows at once, and a cached page is never served to another tenant.
#[actix_web::test]
async fn a_cached_feed_page_is_never_served_once_its_rows_change_nor_to_another_tenant() {
    use diesel::connection::SimpleConnection;

    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let account = connected_account(&api).await;
        let path = format!("/v1/accounts/{account}/transactions?limit=10");
        let first = |page: &Value| page["transactions"][0].clone();

        let cache = &app.state.feed_cache;
        let (_, before) = api.call("GET", &path, None).await;
        assert!(cache.stats().pages >= 1, "the page was kept");
        let start = cache.stats();
        let (_, again) = api.call("GET", &path, None).await;
        assert_eq!(again, before, "served again, unchanged");
        assert_eq!(cache.stats().hits, start.hits + 1, "from the cache");
        // Each write below must make the next read miss.
        let missed_once_more = |previous: passerelle::api::feed_cache::FeedCacheStats| {
            let now = cache.stats();
            assert_eq!(now.misses, previous.misses + 1, "a miss after the write");
            assert_eq!(now.hits, previous.hits, "no hit after the write");
            now
        };
        let mut seen = cache.stats();

        // Another tenant asking for the cached page gets the same 404 as for a missing one.
        let other_key = app.other_tenant_key().await;
        let (status, _) = Api::new(&app, &other_key).call("GET", &path, None).await;
        assert_eq!(status, 404);

        // An update made outside Passerelle's code paths, on a connection of its own.
        let newest = first(&before)["id"].as_str().unwrap().to_owned();
        let mut other = app.db.connection();
        other
            .batch_execute(&format!(
                "UPDATE transactions SET description = 'changed elsewhere' WHERE id = '{newest}'"
            ))
            .unwrap();
        let (_, updated) = api.call("GET", &path, None).await;
        seen = missed_once_more(seen);
        assert_eq!(first(&updated)["id"], newest.as_str());
        assert_eq!(first(&updated)["description"], "changed elsewhere");

        // A delete, the same way.
        other
            .batch_execute(&format!("DELETE FROM transactions WHERE id = '{newest}'"))
            .unwrap();
        let (_, deleted) = api.call("GET", &path, None).await;
        seen = missed_once_more(seen);
        assert_ne!(first(&deleted)["id"], newest.as_str());
        assert!(deleted["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["id"] != newest.as_str()));

        // An insert through the store, as the sync writes: it is the newest.
        let account_id = account.clone();
        let inserted = store::run(&app.state.pool, move |conn| {
            let t = store::now();
            let row = TransactionRow {
                id: store::new_id(),
                account_id,
                fingerprint: "fp-new".into(),
                amount_minor: -4_200,
                currency: "EUR".into(),
                status: "pending".into(),
                booking_date: None,
                value_date: None,
                transaction_date: NaiveDate::from_ymd_opt(2026, 12, 31),
                sort_date: NaiveDate::from_ymd_opt(2026, 12, 31).unwrap(),
                description: "new".into(),
                bank_transaction_code: None,
                entry_reference: None,
                bank_resource_id: None,
                first_seen_at: t,
                updated_at: t,
            };
            transactions::upsert(conn, &row)?;
            Ok(row.id)
        })
        .await
        .unwrap();
        let (_, grown) = api.call("GET", &path, None).await;
        missed_once_more(seen);
        assert_eq!(first(&grown)["id"], inserted.as_str());
        assert_eq!(first(&grown)["amount"]["value"], "-42.00");
    }
}

/// A budgeting app that polls the feed revalidates its copy with `If-None-Match`: 304 and no body
/// while the page is unchanged, the new page and a new `ETag` once a transaction changes.
#[actix_web::test]
async fn the_feed_answers_304_to_a_current_etag_and_200_once_the_page_changes() {
    use diesel::connection::SimpleConnection;

    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let account = connected_account(&api).await;
        let url = app.url(&format!("/v1/accounts/{account}/transactions?limit=5"));
        let get = |if_none_match: Option<String>| {
            let mut request = api
                .client
                .get(url.clone())
                .insert_header(("Authorization", format!("Bearer {}", api.key)));
            if let Some(tag) = if_none_match {
                request = request.insert_header(("If-None-Match", tag));
            }
            request.send()
        };
        let header = |r: &awc::ClientResponse<_>, name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };

        let mut first = get(None).await.unwrap();
        assert_eq!(first.status().as_u16(), 200);
        let etag = header(&first, "etag").expect("an ETag");
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert_eq!(
            header(&first, "cache-control").as_deref(),
            Some("private, no-cache")
        );
        assert!(!first.body().await.unwrap().is_empty());

        let before_304s = app.state.feed_cache.stats();
        for tag in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let mut unchanged = get(Some(tag.clone())).await.unwrap();
            assert_eq!(unchanged.status().as_u16(), 304, "{tag}");
            assert_eq!(header(&unchanged, "etag").as_deref(), Some(etag.as_str()));
            assert!(unchanged.body().await.unwrap().is_empty(), "no body");
        }
        let after_304s = app.state.feed_cache.stats();
        assert_eq!(
            (after_304s.hits, after_304s.misses),
            (before_304s.hits, before_304s.misses),
            "a 304 needs the tenancy check only: no page is looked up or read"
        );
        let stale = get(Some("\"not-this-one\"".into())).await.unwrap();
        assert_eq!(stale.status().as_u16(), 200);
        let star_in_a_list = get(Some("\"not-this-one\", *".into())).await.unwrap();
        assert_eq!(
            star_in_a_list.status().as_u16(),
            200,
            "`*` only counts alone"
        );

        // Another tenant naming the current tag learns nothing: the same 404 as for a missing
        // account, not a 304.
        let other_key = app.other_tenant_key().await;
        let theirs = api
            .client
            .get(url.clone())
            .insert_header(("Authorization", format!("Bearer {other_key}")))
            .insert_header(("If-None-Match", etag.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(theirs.status().as_u16(), 404);

        app.db
            .connection()
            .batch_execute(&format!(
                "UPDATE transactions SET description = 'changed' WHERE account_id = '{account}'"
            ))
            .unwrap();
        let mut changed = get(Some(etag.clone())).await.unwrap();
        assert_eq!(changed.status().as_u16(), 200, "the page changed");
        let new_etag = header(&changed, "etag").unwrap();
        assert_ne!(new_etag, etag);
        let body: Value = serde_json::from_slice(&changed.body().await.unwrap()).unwrap();
        assert_eq!(body["transactions"][0]["description"], "changed");
    }
}

/// A consent that reached its end (SCA + 180 days) turns its connection `reauth_required` with a
/// `consent.expired` audit entry, once, even when two sweeps run; one not yet due stays active.
#[actix_web::test]
async fn an_ended_consent_turns_the_connection_reauth_required_and_is_audited_once() {
    use passerelle::store::connections::{self, ConnectionUpdate};

    for db in TestDb::all() {
        let app = TestApp::spawn(db).await;
        let api = Api::new(&app, &app.api_key);
        let mut ids = Vec::new();
        for _ in 0..2 {
            let (_, created) = api
                .call(
                    "POST",
                    "/v1/users/u-1/connections",
                    Some(new_connection_body()),
                )
                .await;
            ids.push(created["id"].as_str().unwrap().to_owned());
        }
        let (ended, current) = (ids[0].clone(), ids[1].clone());
        let now = store::now();
        let (a, b) = (ended.clone(), current.clone());
        store::run(&app.state.pool, move |conn| {
            for (id, sca_days_ago) in [(&a, 181), (&b, 10)] {
                let sca_at = now - chrono::Duration::days(sca_days_ago);
                connections::update(
                    conn,
                    id,
                    ConnectionUpdate::Authorized {
                        sca_at,
                        consent_expires_at: sca_at + chrono::Duration::days(180),
                        scopes: "aisp".into(),
                        browser_hash: None,
                        amr: "mfa".into(),
                    },
                )?;
                connections::update(conn, id, ConnectionUpdate::Activated)?;
            }
            Ok(())
        })
        .await
        .unwrap();

        // Two sweeps at once, as two processes would run them.
        let sweep = || {
            store::run(&app.state.pool, move |conn| {
                Ok(passerelle::connect::expiry::expire_due(conn, now)?)
            })
        };
        let (first, second) = futures_util::join!(sweep(), sweep());
        let mut swept = first.unwrap();
        swept.extend(second.unwrap());
        assert_eq!(swept, vec![ended.clone()], "taken once");

        let (_, shown) = api
            .call("GET", &format!("/v1/connections/{ended}"), None)
            .await;
        assert_eq!(shown["status"], "reauth_required");
        let (_, shown) = api
            .call("GET", &format!("/v1/connections/{current}"), None)
            .await;
        assert_eq!(shown["status"], "active");

        let id = ended.clone();
        let log = store::run(&app.state.pool, move |conn| {
            Ok(passerelle::store::audit::for_connection(conn, &id)?)
        })
        .await
        .unwrap();
        let expired: Vec<_> = log
            .iter()
            .filter(|e| e.action == "consent.expired")
            .collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].actor, "passerelle");
        let id = ended.clone();
        let owner = store::run(&app.state.pool, move |conn| {
            let connection = connections::find(conn, &id)?.unwrap();
            Ok(
                passerelle::store::users::find_by_id(conn, &connection.user_id)?
                    .map(|u| u.api_client_id),
            )
        })
        .await
        .unwrap();
        assert!(owner.is_some());
        assert_eq!(expired[0].api_client_id, owner);
        assert!(store::run(&app.state.pool, move |conn| {
            Ok(passerelle::connect::expiry::expire_due(conn, now)?)
        })
        .await
        .unwrap()
        .is_empty());
    }
}
