//! Accounts, their balances and their transactions, as normalized by the sync.

use actix_web::http::header::{self, ContentType};
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{require_api_key, ApiClient};
use super::connections::{valid_user_id, UserPath};
use super::error::ApiError;
use super::feed_cache::FeedPageKey;
use super::json::Amount;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::state::AppState;
use crate::store::models::{AccountRow, BalanceRow, FeedTransactionRow};
use crate::store::transactions::{PageCursor, TransactionFilter};
use crate::store::{self, accounts, balances as balance_store, transactions as tx_store, users};

/// The largest page of transactions.
pub const MAX_PAGE: i64 = 500;
/// The page size when `limit` is absent.
pub const DEFAULT_PAGE: i64 = 100;

/// A bank account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Passerelle's id for the account.
    pub id: String,
    /// The connection it is shared through.
    pub connection_id: String,
    /// The account's name at the bank.
    pub name: String,
    /// IBAN, kept as the bank sent it even when it fails the mod-97 check.
    pub iban: Option<String>,
    /// Whether the IBAN passes the ISO 13616 mod-97 check.
    pub iban_valid: bool,
    /// ISO 4217 code.
    pub currency: String,
    /// STET cash account type (`CACC` current account, `CARD` card account).
    pub cash_account_type: String,
    /// `PRIV` or `ORGA` when the bank says.
    pub usage: Option<String>,
    /// `active`, or `unavailable` when the consent no longer covers it.
    pub status: String,
    /// How the bank identifies the account: its IBAN, or for an account without one (a card
    /// account) the bank's other identification, e.g. a masked card number.
    pub identification: Option<AccountIdentification>,
    /// For a card account: the id of the account it is debited from, when that account is
    /// shared through the same connection.
    pub linked_account_id: Option<String>,
}

/// An account's identification at its bank.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountIdentification {
    /// `iban`, or the bank's scheme for another identification (`CPAN`: a card's number).
    #[schema(example = "CPAN")]
    pub scheme: String,
    /// The IBAN, or the other identification as the bank sent it (card numbers come masked).
    #[schema(example = "497010XXXXXX4213")]
    pub value: String,
}

impl AccountView {
    /// The view of `row`; `siblings` are the accounts of its connection, where a card account's
    /// linked account is looked up by the bank's resource id.
    fn of(row: AccountRow, siblings: &[AccountRow]) -> Self {
        let linked_account_id = row.linked_resource_id.as_ref().and_then(|linked| {
            siblings
                .iter()
                .find(|s| {
                    s.connection_id == row.connection_id
                        && s.bank_resource_id.as_ref() == Some(linked)
                })
                .map(|s| s.id.clone())
        });
        let identification = row
            .identification_scheme
            .zip(row.identification)
            .map(|(scheme, value)| AccountIdentification { scheme, value });
        Self {
            id: row.id,
            connection_id: row.connection_id,
            name: row.name,
            iban: row.iban,
            iban_valid: row.iban_valid,
            currency: row.currency,
            cash_account_type: row.cash_account_type,
            usage: row.usage,
            status: row.status,
            identification,
            linked_account_id,
        }
    }
}

/// A list of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// Grouped by connection.
    pub accounts: Vec<AccountView>,
}

/// A balance as of a bank calendar day.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceView {
    /// `booked`, `available`, `expected`, `value_dated` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The bank's label.
    pub name: Option<String>,
    /// Signed amount.
    pub amount: Amount,
    /// The bank's reference time for the balance (UTC), when it gives one; midnight when the
    /// bank gives only a day.
    pub reference_date: Option<DateTime<Utc>>,
    /// The bank calendar day (Europe/Paris for BPCE) the snapshot belongs to.
    pub as_of: NaiveDate,
}

impl From<BalanceRow> for BalanceView {
    fn from(row: BalanceRow) -> Self {
        Self {
            kind: row.balance_type,
            name: row.name,
            amount: Amount::from_minor(row.amount_minor, &row.currency),
            reference_date: row.reference_date.map(|t| t.and_utc()),
            as_of: row.as_of_day,
        }
    }
}

/// An account's latest balances, and their daily history.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceList {
    /// The account.
    pub account_id: String,
    /// The newest snapshot of each type.
    pub balances: Vec<BalanceView>,
    /// Every daily snapshot, newest first.
    pub history: Vec<BalanceView>,
}

/// A transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// Passerelle's id: stable when a pending transaction books.
    pub id: String,
    /// The account.
    pub account_id: String,
    /// Signed amount: negative leaves the account.
    pub amount: Amount,
    /// `pending`, `booked` or `other`.
    #[schema(value_type = TransactionStatus)]
    pub status: String,
    /// Booking date, once booked.
    pub booking_date: Option<NaiveDate>,
    /// Value date.
    pub value_date: Option<NaiveDate>,
    /// Transaction date.
    pub transaction_date: Option<NaiveDate>,
    /// The bank's text.
    pub description: String,
    /// The bank transaction code, when the bank gives one.
    pub bank_transaction_code: Option<String>,
    /// The bank's reference (STET `entryReference`).
    pub bank_reference: Option<String>,
}

impl From<FeedTransactionRow> for TransactionView {
    fn from(row: FeedTransactionRow) -> Self {
        Self {
            amount: Amount::from_minor(row.amount_minor, &row.currency),
            id: row.id,
            account_id: row.account_id,
            status: row.status,
            booking_date: row.booking_date,
            value_date: row.value_date,
            transaction_date: row.transaction_date,
            description: row.description,
            bank_transaction_code: row.bank_transaction_code,
            bank_reference: row.entry_reference,
        }
    }
}

/// A page of transactions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionPage {
    /// Newest first.
    pub transactions: Vec<TransactionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

// The views and the query keep the status a string (the store's); this enum only names the
// values for the document, and `list_transactions` checks the query against the same three.
/// A transaction's status.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    /// Not booked yet (BPCE's `OTHR` too).
    Pending,
    /// Booked.
    Booked,
    /// Anything else the bank says.
    Other,
}

/// `GET /v1/accounts/{id}/transactions` query. The `#[param]` bounds are the ones
/// `list_transactions` enforces; `tests/openapi.rs` checks that they agree.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransactionQuery {
    /// Earliest date, inclusive (`YYYY-MM-DD`); not after `to`.
    pub from: Option<NaiveDate>,
    /// Latest date, inclusive (`YYYY-MM-DD`).
    pub to: Option<NaiveDate>,
    /// Only transactions with this status.
    #[param(inline, value_type = Option<TransactionStatus>)]
    pub status: Option<String>,
    /// Page size.
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<i64>,
    /// The previous page's `next_cursor`, as it was given.
    pub cursor: Option<String>,
}

fn encode_cursor(row: &FeedTransactionRow) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", row.sort_date, row.id))
}

fn decode_cursor(cursor: &str) -> Result<PageCursor, ApiError> {
    let bad = || ApiError::invalid("cursor", "not a cursor from this API");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (date, id) = text.split_once('|').ok_or_else(bad)?;
    // Our ids are UUIDs; a forged one holding NUL would make PostgreSQL fail the query (500).
    if !super::may_exist(id) {
        return Err(bad());
    }
    Ok(PageCursor {
        sort_date: date.parse().map_err(|_| bad())?,
        id: id.to_owned(),
    })
}

/// Every account of a user, across their connections.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/accounts",
    operation_id = "list_accounts",
    params(UserPath),
    responses(
        (status = 200, description = "The user's accounts", body = AccountList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/users/{user_id}/accounts", wrap = "from_fn(require_api_key)")]
pub async fn list_for_user(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<UserPath>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let list = store::run(&state.pool, move |conn| {
        let Some(user) = users::find(conn, &client.0.id, &user_id)? else {
            return Ok(Err(ApiError::NotFound("user")));
        };
        Ok(Ok(accounts::list_for_user(conn, &user.id)?))
    })
    .await??;
    let views = list
        .iter()
        .map(|row| AccountView::of(row.clone(), &list))
        .collect();
    Ok(HttpResponse::Ok().json(AccountList { accounts: views }))
}

async fn owned_account(
    state: &AppState,
    client: &ApiClient,
    id: String,
) -> Result<AccountRow, ApiError> {
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("account"));
    }
    let client_id = client.0.id.clone();
    store::run(&state.pool, move |conn| {
        Ok(accounts::find_for_client(conn, &id, &client_id)?)
    })
    .await?
    .ok_or(ApiError::NotFound("account"))
}

/// One account.
#[utoipa::path(
    get,
    path = "/v1/accounts/{id}",
    operation_id = "get_account",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account", body = AccountView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/accounts/{id}", wrap = "from_fn(require_api_key)")]
pub async fn show(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = owned_account(&state, &client, id.into_inner()).await?;
    let connection_id = account.connection_id.clone();
    let siblings = match account.linked_resource_id {
        None => Vec::new(),
        Some(_) => {
            store::run(&state.pool, move |conn| {
                Ok(accounts::list_for_connection(conn, &connection_id)?)
            })
            .await?
        }
    };
    Ok(HttpResponse::Ok().json(AccountView::of(account, &siblings)))
}

/// An account's balances.
#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/balances",
    operation_id = "list_balances",
    params(("id" = String, Path, description = "Account id")),
    responses(
        (status = 200, description = "The account's balances", body = BalanceList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/accounts/{id}/balances", wrap = "from_fn(require_api_key)")]
pub async fn list_balances(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = owned_account(&state, &client, id.into_inner()).await?;
    let account_id = account.id.clone();
    let (latest, history) = store::run(&state.pool, move |conn| {
        Ok((
            balance_store::latest(conn, &account_id)?,
            balance_store::history(conn, &account_id)?,
        ))
    })
    .await?;
    Ok(HttpResponse::Ok().json(BalanceList {
        account_id: account.id,
        balances: latest.into_iter().map(BalanceView::from).collect(),
        history: history.into_iter().map(BalanceView::from).collect(),
    }))
}

/// An account's transactions, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/accounts/{id}/transactions",
    operation_id = "list_transactions",
    params(
        ("id" = String, Path, description = "Account id"),
        TransactionQuery,
        ("If-None-Match" = Option<String>, Header,
         description = "The `ETag` of a page already held: answered 304 while it is unchanged"),
    ),
    responses(
        (status = 200, description = "A page of transactions", body = TransactionPage, headers(
            ("ETag" = String, description = "Changes whenever the page's content does"),
            ("Cache-Control" = String, description = "`private, no-cache`"),
        )),
        (status = 304, description = "The page named by `If-None-Match` is unchanged", headers(
            ("ETag" = String, description = "The current page's tag"),
            ("Cache-Control" = String, description = "`private, no-cache`"),
        )),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/accounts/{id}/transactions", wrap = "from_fn(require_api_key)")]
pub async fn list_transactions(
    request: HttpRequest,
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<TransactionQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    if let Some(status) = &query.status {
        if !matches!(status.as_str(), "pending" | "booked" | "other") {
            return Err(ApiError::invalid(
                "status",
                "must be pending, booked or other",
            ));
        }
    }
    let account_id = id.into_inner();
    if !super::may_exist(&account_id) {
        return Err(ApiError::NotFound("account"));
    }
    let client_id = client.0.id.clone();
    let cache = state.feed_cache.clone();
    let precondition = IfNoneMatch::from_request(&request);
    // The tenancy check, the feed version and (on a cache miss) the page share one trip to the
    // blocking pool: each trip is a thread hand-off, and the feed is the API's hottest call
    // (benches/transactions_feed.sh).
    let answer = store::run(&state.pool, move |conn| {
        let Some(feed_version) = accounts::feed_version_for_client(conn, &account_id, &client_id)?
        else {
            return Ok(None);
        };
        // The document can state `limit`'s and `status`'s rules, checked above; a cursor (only
        // what `next_cursor` gave) and `from` not after `to` are rules it cannot state, so they
        // are checked once the feed is known to exist: an account that is not there answers
        // 404 whatever they hold, as it does for every other well-formed request.
        if let (Some(from), Some(to)) = (query.from, query.to) {
            if from > to {
                return Ok(Some(Err(ApiError::invalid(
                    "from",
                    "must not be after `to`",
                ))));
            }
        }
        let cursor = match query.cursor.as_deref().map(decode_cursor).transpose() {
            Ok(cursor) => cursor,
            Err(e) => return Ok(Some(Err(e))),
        };
        let key = FeedPageKey {
            account_id,
            feed_version,
            from: query.from,
            to: query.to,
            status: query.status,
            limit,
            cursor: cursor.map(|c| (c.sort_date, c.id)),
        };
        let etag = key.etag();
        if precondition.matches(&etag) {
            return Ok(Some(Ok(FeedAnswer::NotModified { etag })));
        }
        if let Some(body) = cache.get(&key) {
            return Ok(Some(Ok(FeedAnswer::Page { etag, body })));
        }
        // The version was read before the rows: a sync that commits in between gives rows
        // newer than the key says, never older, and that key is not read again once it has.
        let filter = TransactionFilter {
            from: key.from,
            to: key.to,
            status: key.status.clone(),
        };
        let after = key.cursor.as_ref().map(|(sort_date, id)| PageCursor {
            sort_date: *sort_date,
            id: id.clone(),
        });
        // One extra row tells whether another page follows.
        let rows = tx_store::feed_page(conn, &key.account_id, &filter, after.as_ref(), limit + 1)?;
        let body = match serialize_page(rows, limit) {
            Ok(body) => body,
            Err(e) => return Ok(Some(Err(e))),
        };
        cache.insert(key, body.clone());
        Ok(Some(Ok(FeedAnswer::Page { etag, body })))
    })
    .await?
    .ok_or(ApiError::NotFound("account"))??;
    // The page is answered per API key and changes with every sync: no shared cache may keep
    // it, and a client's copy must be revalidated, which costs it nothing while it is unchanged.
    let cache_control = (header::CACHE_CONTROL, "private, no-cache");
    Ok(match answer {
        FeedAnswer::NotModified { etag } => HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header(cache_control)
            .finish(),
        FeedAnswer::Page { etag, body } => HttpResponse::Ok()
            .content_type(ContentType::json())
            .insert_header((header::ETAG, etag))
            .insert_header(cache_control)
            .body(body),
    })
}

/// What the feed answers once the tenancy check passed.
enum FeedAnswer {
    /// The client's copy (named by `If-None-Match`) is current.
    NotModified { etag: String },
    /// The page's JSON.
    Page { etag: String, body: Bytes },
}

/// The request's `If-None-Match`, read before the trip to the store.
struct IfNoneMatch {
    /// `*` alone: any current page matches.
    any: bool,
    /// The listed entity tags, `W/` prefixes removed (the comparison is weak, RFC 9110 §13.1.2).
    tags: Vec<String>,
}

impl IfNoneMatch {
    /// Splitting on every comma is safe: our tags are quoted hex, so a fragment of a foreign tag
    /// that holds a comma can never equal one of them. A header that is not a list of entity
    /// tags matches nothing, so the page is sent.
    fn from_request(request: &HttpRequest) -> Self {
        let values: Vec<&str> = request
            .headers()
            .get_all(header::IF_NONE_MATCH)
            .filter_map(|value| value.to_str().ok())
            .collect();
        let any = matches!(values.as_slice(), [only] if only.trim() == "*");
        let tags = values
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .map(|tag| tag.strip_prefix("W/").unwrap_or(tag).to_owned())
            .collect();
        Self { any, tags }
    }

    fn matches(&self, etag: &str) -> bool {
        self.any || self.tags.iter().any(|tag| tag == etag)
    }
}

/// The JSON of a page from up to `limit + 1` rows (the extra one only says a next page exists).
fn serialize_page(mut rows: Vec<FeedTransactionRow>, limit: i64) -> Result<Bytes, ApiError> {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(encode_cursor)
    } else {
        None
    };
    let page = TransactionPage {
        transactions: rows.into_iter().map(TransactionView::from).collect(),
        next_cursor,
    };
    // A 100-row page is about 35 KB of JSON. Serializing into a buffer of roughly that size
    // skips the doubling reallocations (and glibc's consolidation of the freed chunks) that
    // `HttpResponse::json` pays, which showed in the profile of benches/transactions_feed.sh.
    let mut body = Vec::with_capacity(256 + page.transactions.len() * TRANSACTION_JSON_BYTES);
    serde_json::to_writer(&mut body, &page).map_err(|e| ApiError::Internal(e.into()))?;
    // The page may be cached, which counts its length: give back the unused capacity, which
    // `Bytes` would otherwise keep for as long as the page lives.
    body.shrink_to_fit();
    Ok(Bytes::from(body))
}

/// A little more than one transaction's JSON in the feed (about 350 bytes with a long text).
const TRANSACTION_JSON_BYTES: usize = 400;
