//! Accounts, their balances and their transactions, as normalized by the sync.

use actix_web::http::header::{self, ContentType};
use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{require_api_key, ApiClient};
use super::connections::{valid_user_id, UserPath};
use super::error::ApiError;
use super::feed_cache::FeedPageKey;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::model::TransactionState;
use crate::state::AppState;
use crate::store::models::{AccountRow, FeedTransactionRow};
use crate::store::transactions::{PageCursor, TransactionFilter};
use crate::store::{
    self, accounts, balances as balance_store, continuity, transactions as tx_store, users,
};

pub mod changes;
mod views;

pub use views::{
    AccountIdentification, AccountList, AccountView, BalanceList, BalanceView, Continuity,
    TransactionPage, TransactionStatus, TransactionView,
};

/// The largest page of transactions.
pub const MAX_PAGE: i64 = 500;
/// The page size when `limit` is absent.
pub const DEFAULT_PAGE: i64 = 100;

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
    /// Only transactions added or changed at or after this instant (RFC 3339), the instant
    /// being that of the sync that made the change (its start). Without `status`, cancelled
    /// transactions are included (with status `cancelled`), so the app learns of them. For an
    /// exact incremental read, prefer the user's changes feed.
    pub updated_since: Option<DateTime<Utc>>,
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
    let (list, verdicts) = store::run(&state.pool, move |conn| {
        let Some(user) = users::find(conn, &client.0.id, &user_id)? else {
            return Ok(Err(ApiError::NotFound("user")));
        };
        let list = accounts::list_for_user(conn, &user.id)?;
        let ids: Vec<String> = list.iter().map(|a| a.id.clone()).collect();
        let verdicts = continuity::latest_for_accounts(conn, &ids)?;
        Ok(Ok((list, verdicts)))
    })
    .await??;
    let views = list
        .iter()
        .map(|row| AccountView::of(row.clone(), &list, verdicts.get(&row.id)))
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
    let account_id = account.id.clone();
    let linked = account.linked_resource_id.is_some();
    let (siblings, mut verdicts) = store::run(&state.pool, move |conn| {
        let siblings = if linked {
            accounts::list_for_connection(conn, &connection_id)?
        } else {
            Vec::new()
        };
        let verdicts = continuity::latest_for_accounts(conn, &[account_id])?;
        Ok((siblings, verdicts))
    })
    .await?;
    let verdict = verdicts.remove(&account.id);
    Ok(HttpResponse::Ok().json(AccountView::of(account, &siblings, verdict.as_ref())))
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
        if !matches!(
            status.parse::<TransactionState>(),
            Ok(TransactionState::Pending
                | TransactionState::Booked
                | TransactionState::Other
                | TransactionState::Cancelled)
        ) {
            return Err(ApiError::invalid(
                "status",
                "must be pending, booked, other or cancelled",
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
            updated_since: query.updated_since.map(|t| t.naive_utc()),
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
            updated_since: key.updated_since,
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
