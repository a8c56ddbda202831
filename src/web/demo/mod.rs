//! The demo (only while the built-in sandbox bank runs): `/demo` plays a budgeting app for a
//! newcomer. It picks a sandbox bank, creates a connection through Passerelle's own JSON API,
//! sends the browser through the real journey, and on `/demo/done` shows what the API returns
//! for the connection: its accounts, balances (with a small chart) and transactions, and the
//! events its webhook endpoint received for the connection (see [`events`]).
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

mod chart;
mod client;
mod events;
mod pay;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::i18n::{english, Texts};
use super::{error_page, render};
use crate::model::ConnectionStatus;
use crate::state::AppState;
use chart::Chart;
use client::{
    ApiAccount, ApiAccounts, ApiBalance, ApiBalances, ApiConnection, ApiTransaction,
    ApiTransactions, CallError, Created,
};
pub use client::{DemoClient, DEMO_CLIENT_NAME};

/// The cookie that remembers the visitor's demo user id.
const USER_COOKIE: &str = "passerelle_demo_user";
/// How many transactions the done page lists per account.
const TRANSACTIONS_SHOWN: usize = 50;
/// How many transactions are read per account (the chart derives earlier days from them).
const TRANSACTIONS_READ: usize = 500;

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
    pay_action: String,
    /// Whether the bank initiates payments (its profile has payment capabilities): the pay
    /// button is shown only then.
    pays: bool,
    bank_name: String,
    connection: ApiConnection,
    returned_error: Option<String>,
    accounts: Vec<AccountPanel>,
    /// The connection's events the demo's webhook endpoint received, newest first.
    events: Vec<events::ReceivedEvent>,
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
) -> Result<(String, Option<Cookie<'static>>), openssl::error::ErrorStack> {
    if let Some(user) = cookie_user(req) {
        return Ok((user, None));
    }
    let mut bytes = [0u8; 8];
    openssl::rand::rand_bytes(&mut bytes)?;
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
    // The demo takes its events as an app would: through a webhook endpoint it registers.
    if let Err(e) = demo.inbox.ensure_registered(&demo).await {
        return internal(t, e);
    }
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
    super::page_headers(&mut response);
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
    let connection: Option<ApiConnection> = match demo.call("GET", &path, None).await {
        Ok(connection) => Some(connection),
        Err(e) if e.status == Some(404) => None,
        Err(e) => return internal(t, e),
    };
    // All demo visitors share one API client: the cookie keeps each to their own connections.
    let Some(connection) = connection.filter(|c| cookie_user(&req).as_ref() == Some(&c.user_id))
    else {
        return error_page(
            StatusCode::NOT_FOUND,
            t,
            "This demo connection was started in another browser (or does not exist).",
        );
    };
    let accounts = if connection.status == ConnectionStatus::Active.as_str() {
        match account_panels(&demo, &connection).await {
            Ok(accounts) => accounts,
            Err(e) => return internal(t, e),
        }
    } else {
        Vec::new()
    };
    let bank_name = state.registry.display_name(&connection.bank_id);
    let pays = state
        .registry
        .get(&connection.bank_id)
        .is_some_and(|bank| bank.payments.is_some());
    let events = demo.inbox.for_connection(&connection.id);
    render(
        StatusCode::OK,
        &DonePage {
            t,
            again: demo.page_url("demo"),
            pay_action: demo.page_url("demo/pay"),
            pays,
            bank_name,
            connection,
            returned_error: query.error,
            accounts,
            events,
            width: chart::WIDTH,
            height: chart::HEIGHT,
        },
    )
}

/// Reads the connection's accounts, then each one's balances and transactions.
async fn account_panels(
    demo: &DemoClient,
    connection: &ApiConnection,
) -> Result<Vec<AccountPanel>, CallError> {
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
    let chart = chart::layout(&chart::series(&history, &booked));
    (kind, chart)
}

/// Mounts the demo's pages, with the key they call the API with.
pub fn routes(cfg: &mut web::ServiceConfig, demo: web::Data<DemoClient>) {
    cfg.app_data(demo)
        .service(start)
        .service(connect)
        .service(done)
        .service(pay::pay)
        .service(pay::paid)
        .service(events::receive);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_minted_demo_user_ids_are_accepted() {
        assert!(!valid_demo_user("demo-<script>"));
        assert!(!valid_demo_user("demo-0123"));
        assert!(valid_demo_user("demo-0123456789abcdef"));
    }
}
