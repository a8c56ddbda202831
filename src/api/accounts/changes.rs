//! The changes feed over HTTP (the reading is [`crate::events::changes`]): the cursor is the
//! last change number a page held, opaque to the app.

use actix_web::middleware::from_fn;
use actix_web::{get, web, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::views::TransactionView;
use super::{DEFAULT_PAGE, MAX_PAGE};
use crate::api::auth::{require_api_key, ApiClient};
use crate::api::connections::{valid_user_id, UserPath};
use crate::api::error::ApiError;
use crate::api::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::events::changes;
use crate::state::AppState;
use crate::store::{self, users};

/// `GET /v1/users/{user_id}/transactions/changes` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// The previous page's `next_cursor`; absent: from the user's first change.
    pub cursor: Option<String>,
    /// Most changes read for this page (a transaction changed twice in it is listed once).
    #[param(minimum = 1, maximum = 500, default = 100)]
    pub limit: Option<i64>,
}

/// A transaction no longer in the feed: cancelled by the bank (a pending row that never
/// booked), or gone with its connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedTransaction {
    /// The transaction's id.
    pub id: String,
    /// Its account.
    pub account_id: String,
}

/// One page of changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionChanges {
    /// Transactions seen for the first time, as they are now.
    pub added: Vec<TransactionView>,
    /// Transactions changed (booked, amount or text modified, reinstated), same ids, as they
    /// are now.
    pub modified: Vec<TransactionView>,
    /// Transactions cancelled.
    pub removed: Vec<RemovedTransaction>,
    /// The cursor for the next call (also when `has_more` is false: it is where to start the
    /// next time).
    pub next_cursor: String,
    /// Whether more changes follow right now.
    pub has_more: bool,
}

fn encode_cursor(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("changes|{seq}"))
}

fn decode_cursor(cursor: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::invalid("cursor", "not a cursor from this feed");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let seq = text.strip_prefix("changes|").ok_or_else(bad)?;
    seq.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(bad)
}

/// What changed in a user's transactions since the cursor, oldest change first.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/transactions/changes",
    operation_id = "list_transaction_changes",
    params(UserPath, ChangesQuery),
    responses(
        (status = 200, description = "The changes after the cursor", body = TransactionChanges),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get(
    "/v1/users/{user_id}/transactions/changes",
    wrap = "from_fn(require_api_key)"
)]
pub async fn list_changes(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<UserPath>,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 500"));
    }
    let cursor = query.cursor;
    let page = store::run(&state.pool, move |conn| {
        let Some(user) = users::find(conn, &client.0.id, &user_id)? else {
            return Ok(Err(ApiError::NotFound("user")));
        };
        // Checked once the user is known to exist, as the per-account feed does.
        let after = match cursor.as_deref().map(decode_cursor).transpose() {
            Ok(after) => after.unwrap_or(0),
            Err(e) => return Ok(Err(e)),
        };
        Ok(Ok(changes::page(conn, &user.id, after, limit)?))
    })
    .await??;
    Ok(HttpResponse::Ok().json(TransactionChanges {
        added: page.added.into_iter().map(TransactionView::from).collect(),
        modified: page
            .modified
            .into_iter()
            .map(TransactionView::from)
            .collect(),
        removed: page
            .removed
            .into_iter()
            .map(|(id, account_id)| RemovedTransaction { id, account_id })
            .collect(),
        next_cursor: encode_cursor(page.last_seq),
        has_more: page.has_more,
    }))
}
