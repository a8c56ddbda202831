//! The demo (only while the built-in sandbox bank runs): `/demo` plays a budgeting app for a
//! newcomer. It picks a sandbox bank, creates a connection through Passerelle's own JSON API,
//! sends the browser through the real journey, and on `/demo/done` shows what the API returns
//! for the connection: its accounts, balances (with a small chart) and transactions.
//!
//! It really is an API client: every read and write goes over HTTP to this process's own
//! listener with the demo API key, exactly as an app would (no shortcut into the store), so
//! the demo also shows that the API works end to end.
//!
//! The demo API key: the `demo` API client is created at start if missing (allow-list
//! `<public_url>demo/`), its older keys are revoked, and a fresh key is minted. The plaintext
//! exists only in this process's memory (`DemoClient`); the database holds its hash like any
//! other key. A restart therefore invalidates the previous process's key, which is fine: the
//! sandbox, and so the demo, is a single-process development feature.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use anyhow::Context;
use askama::Template;
use chrono::NaiveDate;
use diesel::Connection as _;
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::demo_chart::{self, Chart};
use super::i18n::{english, Texts};
use super::{error_page, render};
use crate::api::auth;
use crate::app::AppState;
use crate::store::{self, api_clients, Pool};

/// The demo API client's name.
pub const DEMO_CLIENT_NAME: &str = "demo";
/// The cookie that remembers the visitor's demo user id.
const USER_COOKIE: &str = "passerelle_demo_user";
/// How many transactions the done page lists per account.
const TRANSACTIONS_SHOWN: usize = 50;
/// How many transactions are read per account (the chart derives earlier days from them).
const TRANSACTIONS_READ: usize = 500;

/// The demo's API client: where the API listens and the key, held in memory only.
pub struct DemoClient {
    api_base: String,
    api_key: SecretString,
    public_url: Url,
}

impl DemoClient {
    /// Start-up: creates or updates the `demo` API client, revokes its older keys and mints a
    /// fresh one. `listening` is the address the server is bound to (an unspecified address is
    /// reached through loopback).
    pub fn prepare(pool: &Pool, public_url: &Url, listening: SocketAddr) -> anyhow::Result<Self> {
        let allowlist = vec![public_url
            .join("demo/")
            .context("PASSERELLE_PUBLIC_URL: cannot build the demo URL")?
            .to_string()];
        let allowlist_json = serde_json::to_string(&allowlist)?;
        let mut conn = pool.get().context("database pool")?;
        let key = conn.transaction(|conn| -> anyhow::Result<String> {
            let client = match api_clients::find_client_by_name(conn, DEMO_CLIENT_NAME)? {
                Some(client) => client,
                None => {
                    return Ok(auth::create_client_with_key(conn, DEMO_CLIENT_NAME, &allowlist)?.1)
                }
            };
            // The public URL may have changed since the last start.
            api_clients::set_redirect_allowlist(conn, &client.id, &allowlist_json)?;
            let revoked = api_clients::revoke_keys_of_client(conn, &client.id, store::now())?;
            if revoked > 0 {
                tracing::info!(revoked, "older demo API keys revoked");
            }
            let minted = auth::mint(&client.id)?;
            api_clients::insert_key(conn, &minted.row)?;
            Ok(minted.key)
        })?;
        let ip = match listening.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Ok(Self {
            api_base: format!("http://{}", SocketAddr::new(ip, listening.port())),
            api_key: SecretString::from(key),
            public_url: public_url.clone(),
        })
    }

    /// The demo's address, to print at start.
    pub fn url(&self) -> Option<Url> {
        self.public_url.join("demo").ok()
    }

    fn page_url(&self, path: &str) -> String {
        self.public_url
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| format!("/{path}"))
    }

    /// One JSON API call, as the app would make it; an error answer becomes a readable message
    /// naming the problem's `code`.
    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, String> {
        // awc clients are bound to their thread: one per call is simplest for a demo page.
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let method = awc::http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let request = client
            .request(method.clone(), format!("{}{path}", self.api_base))
            .insert_header((
                "Authorization",
                format!("Bearer {}", self.api_key.expose_secret()),
            ));
        let sent = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        let mut response = sent.map_err(|e| format!("{method} {path}: {e}"))?;
        let bytes = response
            .body()
            .limit(8 << 20)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if !response.status().is_success() {
            let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(format!(
                "{method} {path} answered {}: {} {}",
                response.status().as_u16(),
                problem["code"].as_str().unwrap_or("?"),
                problem["detail"].as_str().unwrap_or("")
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path}: {e}"))
    }
}

/// `POST /v1/users/{u}/connections` answer (the fields the demo uses).
#[derive(Debug, Deserialize)]
struct Created {
    connect_url: String,
}

/// A connection as the API returns it.
#[derive(Debug, Deserialize)]
struct ApiConnection {
    id: String,
    user_id: String,
    bank_id: String,
    status: String,
    scopes: Vec<String>,
    consent_expires_at: Option<String>,
    last_synced_at: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ApiAccounts {
    accounts: Vec<ApiAccount>,
}

#[derive(Debug, Deserialize)]
struct ApiAccount {
    id: String,
    connection_id: String,
    name: String,
    iban: Option<String>,
    currency: String,
    cash_account_type: String,
    status: String,
}

/// An exact amount: the API's decimal string, shown as is.
#[derive(Debug, Clone, Deserialize)]
struct ApiAmount {
    value: String,
    currency: String,
}

#[derive(Debug, Deserialize)]
struct ApiBalances {
    balances: Vec<ApiBalance>,
    history: Vec<ApiBalance>,
}

#[derive(Debug, Clone, Deserialize)]
struct ApiBalance {
    #[serde(rename = "type")]
    kind: String,
    amount: ApiAmount,
    as_of: NaiveDate,
}

#[derive(Debug, Deserialize)]
struct ApiTransactions {
    transactions: Vec<ApiTransaction>,
}

#[derive(Debug, Deserialize)]
struct ApiTransaction {
    amount: ApiAmount,
    status: String,
    booking_date: Option<NaiveDate>,
    value_date: Option<NaiveDate>,
    transaction_date: Option<NaiveDate>,
    description: String,
}

/// A UTC time from the API (`2025-03-01T10:00:00.123456`), to the minute for reading.
fn minute(time: &Option<String>) -> Option<String> {
    time.as_deref()
        .map(|t| t.chars().take(16).collect::<String>().replace('T', " "))
}

impl ApiConnection {
    fn consent_until(&self) -> Option<String> {
        minute(&self.consent_expires_at)
    }

    fn synced(&self) -> Option<String> {
        minute(&self.last_synced_at)
    }
}

impl ApiTransaction {
    /// The date to show: booking, else transaction, else value date.
    fn date(&self) -> String {
        self.booking_date
            .or(self.transaction_date)
            .or(self.value_date)
            .map(|d| d.to_string())
            .unwrap_or_default()
    }
}

/// A sandbox bank on the demo page.
struct DemoBank {
    id: String,
    name: String,
}

/// `GET /demo`.
#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage<'a> {
    t: &'a Texts,
    action: String,
    banks: Vec<DemoBank>,
    user_id: &'a str,
}

/// One account on the done page.
struct AccountPanel {
    account: ApiAccount,
    balances: Vec<ApiBalance>,
    chart: Option<Chart>,
    chart_kind: String,
    transactions: Vec<ApiTransaction>,
    more: bool,
}

/// `GET /demo/done`.
#[derive(Template)]
#[template(path = "demo_done.html")]
struct DonePage<'a> {
    t: &'a Texts,
    again: String,
    bank_name: String,
    connection: ApiConnection,
    returned_error: Option<String>,
    accounts: Vec<AccountPanel>,
    width: u32,
    height: u32,
}

/// A demo user id is ours when it has the shape we mint: anything else is ignored.
fn valid_demo_user(id: &str) -> bool {
    id.strip_prefix("demo-")
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cookie_user(req: &HttpRequest) -> Option<String> {
    req.cookie(USER_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| valid_demo_user(v))
}

/// The visitor's demo user id, and the cookie to set when it is new.
fn demo_user(
    req: &HttpRequest,
    demo: &DemoClient,
) -> Result<(String, Option<Cookie<'static>>), String> {
    if let Some(user) = cookie_user(req) {
        return Ok((user, None));
    }
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| e.to_string())?;
    let user = format!("demo-{}", hex::encode(bytes));
    let cookie = Cookie::build(USER_COOKIE, user.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(demo.public_url.scheme() == "https")
        .max_age(actix_web::cookie::time::Duration::days(30))
        .finish();
    Ok((user, Some(cookie)))
}

fn internal(t: &Texts, e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "demo");
    error_page(StatusCode::INTERNAL_SERVER_ERROR, t, &e.to_string())
}

/// `GET /demo`: pick a sandbox bank.
#[get("/demo")]
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    demo: web::Data<DemoClient>,
) -> HttpResponse {
    let t = english();
    let (user_id, cookie) = match demo_user(&req, &demo) {
        Ok(found) => found,
        Err(e) => return internal(t, e),
    };
    let banks = state
        .registry
        .banks()
        .filter(|b| b.sandbox)
        .map(|b| DemoBank {
            id: b.id.as_str().to_owned(),
            name: b.name.clone(),
        })
        .collect();
    let mut response = render(
        StatusCode::OK,
        &DemoPage {
            t,
            action: demo.page_url("demo/connect"),
            banks,
            user_id: &user_id,
        },
    );
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The bank button.
#[derive(Debug, Deserialize)]
pub struct ConnectForm {
    bank_id: String,
}

/// `POST /demo/connect`: creates the connection through the API and sends the browser to its
/// `connect_url`.
#[post("/demo/connect")]
pub async fn connect(
    req: HttpRequest,
    state: web::Data<AppState>,
    demo: web::Data<DemoClient>,
    form: web::Form<ConnectForm>,
) -> HttpResponse {
    let t = english();
    if !state.registry.get(&form.bank_id).is_some_and(|b| b.sandbox) {
        return error_page(
            StatusCode::BAD_REQUEST,
            t,
            "The demo only connects sandbox banks.",
        );
    }
    let (user_id, cookie) = match demo_user(&req, &demo) {
        Ok(found) => found,
        Err(e) => return internal(t, e),
    };
    let body = serde_json::json!({
        "bank_id": form.bank_id,
        "redirect_url": demo.page_url("demo/done"),
    });
    let path = format!("/v1/users/{user_id}/connections");
    let created: Created = match demo.call("POST", &path, Some(body)).await {
        Ok(created) => created,
        Err(e) => return internal(t, e),
    };
    let mut response = HttpResponse::SeeOther()
        .insert_header((LOCATION, created.connect_url))
        .insert_header(("Cache-Control", "no-store"))
        .finish();
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// Where the journey sends the browser back.
#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    connection_id: Option<String>,
    error: Option<String>,
}

/// `GET /demo/done`: the connection, and for an active one its accounts, balances and latest
/// transactions, all read through the API.
#[get("/demo/done")]
pub async fn done(
    req: HttpRequest,
    state: web::Data<AppState>,
    demo: web::Data<DemoClient>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let t = english();
    let query = query.into_inner();
    let Some(id) = query
        .connection_id
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
    else {
        return error_page(StatusCode::BAD_REQUEST, t, "No connection to show.");
    };
    let path = format!("/v1/connections/{id}");
    let connection: Option<ApiConnection> = demo.call("GET", &path, None).await.ok();
    // All demo visitors share one API client: the cookie keeps each to their own connections.
    let Some(connection) = connection.filter(|c| cookie_user(&req).as_ref() == Some(&c.user_id))
    else {
        return error_page(
            StatusCode::NOT_FOUND,
            t,
            "This demo connection was started in another browser (or does not exist).",
        );
    };
    let accounts = if connection.status == "active" {
        match account_panels(&demo, &connection).await {
            Ok(accounts) => accounts,
            Err(e) => return internal(t, e),
        }
    } else {
        Vec::new()
    };
    let bank_name = state
        .registry
        .get(&connection.bank_id)
        .map(|b| b.name.clone())
        .unwrap_or_else(|| connection.bank_id.clone());
    render(
        StatusCode::OK,
        &DonePage {
            t,
            again: demo.page_url("demo"),
            bank_name,
            connection,
            returned_error: query.error,
            accounts,
            width: demo_chart::WIDTH,
            height: demo_chart::HEIGHT,
        },
    )
}

/// Reads the connection's accounts, then each one's balances and transactions.
async fn account_panels(
    demo: &DemoClient,
    connection: &ApiConnection,
) -> Result<Vec<AccountPanel>, String> {
    let path = format!("/v1/users/{}/accounts", connection.user_id);
    let list: ApiAccounts = demo.call("GET", &path, None).await?;
    let mut panels = Vec::new();
    for account in list.accounts {
        if account.connection_id != connection.id {
            continue;
        }
        let balances: ApiBalances = demo
            .call(
                "GET",
                &format!("/v1/accounts/{}/balances", account.id),
                None,
            )
            .await?;
        let mut transactions: ApiTransactions = demo
            .call(
                "GET",
                &format!(
                    "/v1/accounts/{}/transactions?limit={TRANSACTIONS_READ}",
                    account.id
                ),
                None,
            )
            .await?;
        let (chart_kind, chart) = chart_for(&balances, &transactions.transactions);
        let more = transactions.transactions.len() > TRANSACTIONS_SHOWN;
        transactions.transactions.truncate(TRANSACTIONS_SHOWN);
        panels.push(AccountPanel {
            account,
            balances: balances.balances,
            chart,
            chart_kind,
            transactions: transactions.transactions,
            more,
        });
    }
    Ok(panels)
}

/// The chart of the booked balance (or the first type the bank serves), from its daily history
/// and the booked transactions. Amounts that do not parse are left out rather than guessed.
fn chart_for(balances: &ApiBalances, transactions: &[ApiTransaction]) -> (String, Option<Chart>) {
    let kind = if balances.history.iter().any(|b| b.kind == "booked") {
        "booked".to_owned()
    } else {
        match balances.history.first() {
            Some(b) => b.kind.clone(),
            None => return (String::new(), None),
        }
    };
    let history: Vec<(NaiveDate, Decimal)> = balances
        .history
        .iter()
        .filter(|b| b.kind == kind)
        .filter_map(|b| Some((b.as_of, b.amount.value.parse().ok()?)))
        .collect();
    let booked: Vec<(NaiveDate, Decimal)> = transactions
        .iter()
        .filter(|t| t.status == "booked")
        .filter_map(|t| Some((t.booking_date?, t.amount.value.parse().ok()?)))
        .collect();
    let chart = demo_chart::layout(&demo_chart::series(&history, &booked));
    (kind, chart)
}

/// Mounts the demo's pages, with the key they call the API with.
pub fn routes(cfg: &mut web::ServiceConfig, demo: web::Data<DemoClient>) {
    cfg.app_data(demo)
        .service(start)
        .service(connect)
        .service(done);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::DatabaseUrl;

    #[test]
    fn each_start_mints_a_new_demo_key_and_revokes_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let pool = store::connect(&DatabaseUrl::Sqlite(dir.path().join("d.db"))).unwrap();
        store::run_migrations(&mut pool.get().unwrap()).unwrap();
        let public = Url::parse("http://127.0.0.1:8080/").unwrap();
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let first = DemoClient::prepare(&pool, &public, addr).unwrap();
        assert_eq!(first.api_base, "http://127.0.0.1:8080");
        let moved = Url::parse("http://localhost:9090/").unwrap();
        let second = DemoClient::prepare(&pool, &moved, addr).unwrap();
        let mut conn = pool.get().unwrap();
        assert!(auth::authenticate(&mut conn, first.api_key.expose_secret()).is_err());
        let client = auth::authenticate(&mut conn, second.api_key.expose_secret()).unwrap();
        assert_eq!(client.name, DEMO_CLIENT_NAME);
        assert_eq!(
            client.redirect_allowlist,
            r#"["http://localhost:9090/demo/"]"#
        );
        // One demo client, whatever the number of starts.
        let count: i64 = {
            use crate::store::schema::api_clients::dsl::*;
            use diesel::prelude::*;
            api_clients
                .filter(name.eq(DEMO_CLIENT_NAME))
                .count()
                .get_result(&mut conn)
                .unwrap()
        };
        assert_eq!(count, 1);
        assert!(!valid_demo_user("demo-<script>"));
        assert!(valid_demo_user("demo-0123456789abcdef"));
    }
}
