//! `GET /simplefin/accounts`: the user's accounts, balances and transactions in the SimpleFIN v1
//! shape, from the store. Amounts carry exactly the currency's decimals (Actual reads `"-42.1"`
//! as −4.21); a pending row has `posted: 0` and `pending: true`; a transaction's `id` is
//! Passerelle's stable id, so a row that books keeps it and a cancelled one disappears. A
//! connection that needs the user again is a readable line in `errors`, naming the bank and what
//! to do.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::{refusal, BASE_PATH};
use crate::api::json::Amount;
use crate::connect::token_hash;
use crate::model::ConnectionStatus;
use crate::registry::Registry;
use crate::state::AppState;
use crate::store::models::{AccountRow, ConnectionRow, TransactionRow};
use crate::store::{self, accounts, balances, connections, simplefin, DbConnection};

/// How many days before a consent ends `errors` starts saying so.
const EXPIRY_NOTICE_DAYS: i64 = 7;

/// The query an app sends.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AccountsQuery {
    /// Transactions on or after this instant (Unix seconds).
    pub start: Option<i64>,
    /// Transactions before this instant (Unix seconds).
    pub end: Option<i64>,
    /// Pending transactions too.
    pub pending: bool,
    /// Only these accounts (repeatable `account=`).
    pub accounts: Vec<String>,
    /// No transactions, balances only.
    pub balances_only: bool,
}

impl AccountsQuery {
    /// Parses the query string; `Err` names the parameter that is not a number.
    pub fn parse(query: &str) -> Result<Self, &'static str> {
        let mut out = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "start-date" => out.start = Some(value.parse().map_err(|_| "start-date")?),
                "end-date" => out.end = Some(value.parse().map_err(|_| "end-date")?),
                "pending" => out.pending = value == "1",
                "balances-only" => out.balances_only = value == "1",
                "account" => out.accounts.push(value.into_owned()),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The first day asked for (a boundary day is included whole).
    fn first_day(&self) -> Option<NaiveDate> {
        self.start
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(|t| t.date_naive())
    }

    /// The day after the last day asked for.
    fn until_day(&self) -> Option<NaiveDate> {
        self.end
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .and_then(|t| t.date_naive().succ_opt())
    }
}

/// The bank behind accounts.
#[derive(Debug, Serialize)]
struct Org {
    domain: String,
    name: String,
    #[serde(rename = "sfin-url")]
    sfin_url: String,
    id: String,
}

#[derive(Debug, Serialize)]
struct SfinTransaction {
    id: String,
    posted: i64,
    amount: String,
    description: String,
    payee: String,
    memo: String,
    transacted_at: i64,
    pending: bool,
}

#[derive(Debug, Serialize)]
struct SfinAccount {
    org: Org,
    id: String,
    name: String,
    currency: String,
    balance: String,
    #[serde(rename = "available-balance")]
    available_balance: String,
    #[serde(rename = "balance-date")]
    balance_date: i64,
    transactions: Vec<SfinTransaction>,
    holdings: Vec<serde_json::Value>,
}

/// The answer.
#[derive(Debug, Serialize)]
struct AccountSet {
    errors: Vec<String>,
    accounts: Vec<SfinAccount>,
}

/// A day as SimpleFIN's Unix seconds: its noon UTC, so that an app reading it in any time zone
/// from UTC−11 to UTC+12 lands on the same calendar day.
fn noon(day: NaiveDate) -> i64 {
    day.and_hms_opt(12, 0, 0)
        .map_or(0, |t| t.and_utc().timestamp())
}

fn transaction(row: TransactionRow) -> SfinTransaction {
    let pending = row.status == "pending";
    let day = row
        .transaction_date
        .or(row.value_date)
        .or(row.booking_date)
        .unwrap_or(row.sort_date);
    SfinTransaction {
        posted: match (pending, row.booking_date) {
            (false, Some(booked)) => noon(booked),
            (false, None) => noon(row.sort_date),
            (true, _) => 0,
        },
        amount: Amount::from_minor(row.amount_minor, &row.currency).value,
        payee: row.description.clone(),
        description: row.description,
        memo: String::new(),
        transacted_at: noon(day),
        pending,
        id: row.id,
    }
}

/// What `errors` says of a connection, if anything.
fn notice(connection: &ConnectionRow, bank: &str, now: NaiveDateTime) -> Option<String> {
    let status = connection.status.parse::<ConnectionStatus>().ok()?;
    match status {
        ConnectionStatus::Active => {
            let ends = connection.consent_expires_at?;
            let left = ends - now;
            (left <= chrono::Duration::days(EXPIRY_NOTICE_DAYS)).then(|| {
                format!(
                    "{bank}: the access you gave ends on {} (UTC); reconnect the bank in the app before then to keep these accounts updating.",
                    ends.format("%Y-%m-%d %H:%M")
                )
            })
        }
        ConnectionStatus::ReauthRequired => Some(format!(
            "{bank}: the bank needs you again (the access you gave expired or a new strong authentication is required); reconnect the bank in the app. These accounts are not updated until then."
        )),
        ConnectionStatus::Error => Some(format!(
            "{bank}: connecting failed ({}); reconnect the bank in the app.",
            connection.error_code.as_deref().unwrap_or("error")
        )),
        ConnectionStatus::Revoked => Some(format!(
            "{bank}: the access was revoked; these accounts are no longer updated."
        )),
        ConnectionStatus::Pending => None,
    }
}

/// The user's answer, read in one go from the store.
fn read(
    conn: &mut DbConnection,
    registry: &Registry,
    sfin_url: &str,
    user_id: &str,
    query: &AccountsQuery,
    now: NaiveDateTime,
) -> Result<AccountSet, diesel::result::Error> {
    let mut set = AccountSet {
        errors: Vec::new(),
        accounts: Vec::new(),
    };
    for connection in connections::list_for_user(conn, user_id)? {
        if connection.status == ConnectionStatus::Pending.as_str() {
            continue;
        }
        let bank = registry.display_name(&connection.bank_id);
        if let Some(line) = notice(&connection, &bank, now) {
            set.errors.push(line);
        }
        let domain = registry
            .get(&connection.bank_id)
            .and_then(|b| b.endpoints.live.api_base.host_str().map(str::to_owned))
            .unwrap_or_else(|| connection.bank_id.clone());
        for account in accounts::list_for_connection(conn, &connection.id)? {
            if !query.accounts.is_empty() && !query.accounts.contains(&account.id) {
                continue;
            }
            let org = Org {
                domain: domain.clone(),
                name: bank.clone(),
                sfin_url: sfin_url.to_owned(),
                id: connection.bank_id.clone(),
            };
            set.accounts.push(account_of(conn, org, account, query)?);
        }
    }
    Ok(set)
}

fn account_of(
    conn: &mut DbConnection,
    org: Org,
    account: AccountRow,
    query: &AccountsQuery,
) -> Result<SfinAccount, diesel::result::Error> {
    let latest = balances::latest(conn, &account.id)?;
    let of = |kind: &str| latest.iter().find(|b| b.balance_type == kind);
    // The booked balance, else whatever the bank serves; the available one, else the same.
    let booked = of("booked").or(latest.first());
    let available = of("available").or(booked);
    let money = |b: Option<&crate::store::models::BalanceRow>| {
        Amount::from_minor(b.map_or(0, |b| b.amount_minor), &account.currency).value
    };
    let transactions = if query.balances_only {
        Vec::new()
    } else {
        crate::store::transactions::shown_between(
            conn,
            &account.id,
            query.first_day(),
            query.until_day(),
            query.pending,
        )?
        .into_iter()
        .map(transaction)
        .collect()
    };
    Ok(SfinAccount {
        org,
        balance: money(booked),
        available_balance: money(available),
        balance_date: booked.map_or(0, |b| b.fetched_at.and_utc().timestamp()),
        transactions,
        holdings: Vec::new(),
        id: account.id,
        name: account.name,
        currency: account.currency,
    })
}

/// The Basic credentials of the request.
fn basic(req: &HttpRequest) -> Option<(String, String)> {
    use base64::Engine as _;
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// `GET /simplefin/accounts`.
#[get("/simplefin/accounts")]
pub async fn account_set(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let forbidden = || {
        refusal(
            StatusCode::FORBIDDEN,
            "Forbidden: this access was revoked or its credentials are wrong.",
        )
    };
    let Some((user, pass)) = basic(&req) else {
        return forbidden();
    };
    let query = match AccountsQuery::parse(req.query_string()) {
        Ok(q) => q,
        Err(name) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                &format!("{name} must be a Unix timestamp in seconds"),
            )
        }
    };
    let registry: Arc<Registry> = state.registry.clone();
    let sfin_url = state
        .config
        .public_url
        .join(BASE_PATH)
        .map(String::from)
        .unwrap_or_default();
    let now = state.clock.stored_now();
    let answer = store::run(&state.pool, move |conn| {
        let Some(access) = simplefin::find_by_username(conn, &user)? else {
            return Ok(None);
        };
        let presented = token_hash(&pass);
        let stored = access.secret_hash.as_deref().unwrap_or_default();
        if presented.len() != stored.len()
            || !openssl::memcmp::eq(presented.as_bytes(), stored.as_bytes())
        {
            return Ok(None);
        }
        simplefin::touch(conn, &access.id, now)?;
        Ok(Some(read(
            conn,
            &registry,
            &sfin_url,
            &access.user_id,
            &query,
            now,
        )?))
    })
    .await;
    match answer {
        Ok(Some(set)) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(set),
        Ok(None) => forbidden(),
        Err(e) => {
            tracing::error!(error = %e, "simplefin accounts");
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_takes_repeated_accounts_and_refuses_a_date_that_is_no_number() {
        let q =
            AccountsQuery::parse("start-date=1700000000&pending=1&account=a&account=b").unwrap();
        assert_eq!(q.start, Some(1_700_000_000));
        assert!(q.pending);
        assert_eq!(q.accounts, ["a", "b"]);
        assert!(!q.balances_only);
        assert_eq!(AccountsQuery::parse("end-date=yesterday"), Err("end-date"));
        assert_eq!(
            q.first_day(),
            NaiveDate::from_ymd_opt(2023, 11, 14),
            "the boundary day is included whole"
        );
    }

    #[test]
    fn a_day_is_its_noon_utc() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(noon(day), 1_796_299_200);
    }
}
