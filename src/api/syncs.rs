//! Sync on demand, and the record of a connection's syncs.
//!
//! `POST /v1/connections/{id}/sync` queues a sync job and answers 202 with the run's id at
//! once. When the app says its user is present (it forwards the user's `PSU-IP-Address`, and
//! `PSU-User-Agent`), the sync carries the `PSU-*` headers and costs no quota; otherwise it is
//! an unattended sync that spends the day's quota, and answers 429 `quota_exhausted` with
//! `retry_at` when none is left for the connection.

use std::net::IpAddr;

use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::error::ApiError;
use super::quota_budget::account_list_left;
use super::responses::{Conflict, Internal, NotFound, Unauthorized, ValidationFailed};
use crate::model::ConnectionStatus;
use crate::state::AppState;
use crate::store::models::SyncRunRow;
use crate::store::{self, connections, sync_runs};
use crate::sync::schedule::{self, PsuHeaders};

/// A sync queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncQueued {
    /// The sync run's id (see `GET /v1/connections/{id}/syncs`).
    pub sync_id: String,
    /// `queued`.
    #[schema(example = "queued")]
    pub status: String,
    /// Whether it runs with the user present (no quota spent).
    pub psu_present: bool,
}

/// One sync run of a connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunView {
    /// The run's id.
    pub id: String,
    /// `psu` (the user present: the journey, or the app's request with `PSU-IP-Address`),
    /// `batch` (the scheduler, or a request without the user), `webhook` (the provider said
    /// something changed), `sca_session` (a session opened between logins), `replay`.
    pub trigger: String,
    /// `queued`, `succeeded` or `failed`.
    pub status: String,
    /// When it started (UTC).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error: Option<String>,
    /// Transactions added.
    pub transactions_added: i64,
    /// Transactions booked, modified or reinstated.
    pub transactions_updated: i64,
    /// Pending transactions cancelled.
    pub transactions_cancelled: i64,
    /// Bank calls not sent because the day's quota was spent.
    pub skipped_for_quota: i64,
}

impl From<SyncRunRow> for SyncRunView {
    fn from(row: SyncRunRow) -> Self {
        Self {
            id: row.id,
            trigger: row.trigger_kind,
            status: row.status,
            started_at: row.started_at.and_utc(),
            finished_at: row.finished_at.map(|t| t.and_utc()),
            error: row.error,
            transactions_added: row.transactions_added,
            transactions_updated: row.transactions_updated,
            transactions_cancelled: row.transactions_cancelled,
            skipped_for_quota: row.skipped_for_quota,
        }
    }
}

/// A connection's sync runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncRunList {
    /// The newest 100.
    pub syncs: Vec<SyncRunView>,
}

/// The document's schema of `PSU-IP-Address`: an IPv4 or an IPv6 address.
pub struct IpAddress;

impl utoipa::PartialSchema for IpAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let address = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(address(KnownFormat::Ipv4))
            .item(address(KnownFormat::Ipv6))
            .into()
    }
}

impl utoipa::ToSchema for IpAddress {}

/// The longest `PSU-User-Agent` forwarded to the bank; a longer one is cut there.
const USER_AGENT_MAX_BYTES: usize = 512;

/// The user's context the app forwards, when it does: `PSU-IP-Address` must be an IP address;
/// `PSU-User-Agent` is passed on as given (cut at 512 bytes; bytes that are not UTF-8 replaced).
fn psu_headers(http: &HttpRequest) -> Result<Option<PsuHeaders>, ApiError> {
    let Some(ip) = http.headers().get("PSU-IP-Address") else {
        return Ok(None);
    };
    let ip = ip
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|ip| ip.parse::<IpAddr>().is_ok())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid("PSU-IP-Address", "must be an IP address"))?;
    let user_agent = http
        .headers()
        .get("PSU-User-Agent")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|agent| !agent.is_empty())
        .map(|mut agent| {
            if agent.len() > USER_AGENT_MAX_BYTES {
                let mut cut = USER_AGENT_MAX_BYTES;
                while !agent.is_char_boundary(cut) {
                    cut -= 1;
                }
                agent.truncate(cut);
            }
            agent
        });
    Ok(Some(PsuHeaders {
        ip_address: ip,
        user_agent,
    }))
}

/// Syncs a connection now.
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/sync",
    operation_id = "sync_connection",
    params(
        ("id" = String, Path, description = "Connection id"),
        ("PSU-IP-Address" = Option<IpAddress>, Header, nullable = false,
         description = "The user's IP address, when the user is present: the sync then spends no quota"),
        ("PSU-User-Agent" = Option<String>, Header, nullable = false, description = "The user's browser, with `PSU-IP-Address`"),
    ),
    responses(
        (status = 202, description = "Queued", body = SyncQueued),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
        (status = 429, description = "Without the user, today's calls are spent (`quota_exhausted`, `retry_at`)",
         body = super::error::Problem, content_type = "application/problem+json"),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/connections/{id}/sync", wrap = "from_fn(require_api_key)")]
pub async fn request(
    http: HttpRequest,
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("connection"));
    }
    let psu = psu_headers(&http)?;
    let now = state.clock.now();
    let stored_now = crate::clock::stored(now);
    let registry = state.registry.clone();
    let client_id = state.config.client_id.clone();
    let run_id = store::new_id();
    let answer = store::run(&state.pool, move |conn| {
        let Some(connection) = connections::find_for_client(conn, &id, &client.0.id)? else {
            return Ok(Err(ApiError::NotFound("connection")));
        };
        if connection.status != ConnectionStatus::Active.as_str() {
            return Ok(Err(ApiError::Conflict(
                "only an active connection syncs; see its status",
            )));
        }
        let trigger = if psu.is_some() { "psu" } else { "batch" };
        if psu.is_none() {
            if let Some(bank) = registry.get(&connection.bank_id) {
                let left = account_list_left(conn, bank, &client_id, &connection, now)?;
                if left == Some(0) {
                    return Ok(Err(ApiError::QuotaExhausted {
                        retry_at: bank.day_ends_at(now),
                    }));
                }
            }
        }
        let present = psu.is_some();
        let queued = store::write_transaction(conn, |conn| {
            let fresh = schedule::enqueue_sync_run(
                conn,
                &connection.id,
                &run_id,
                trigger,
                psu,
                stored_now,
            )?;
            if !fresh {
                // One is queued or running already: that run is the answer.
                return schedule::pending_run(conn, &connection.id);
            }
            sync_runs::save(
                conn,
                &SyncRunRow {
                    id: run_id.clone(),
                    connection_id: connection.id.clone(),
                    trigger_kind: trigger.to_owned(),
                    status: "queued".into(),
                    started_at: stored_now,
                    finished_at: None,
                    error: None,
                    transactions_added: 0,
                    transactions_updated: 0,
                    transactions_cancelled: 0,
                    skipped_for_quota: 0,
                },
            )?;
            Ok::<_, diesel::result::Error>(Some(run_id.clone()))
        })?;
        Ok(Ok(SyncQueued {
            sync_id: queued.unwrap_or(run_id),
            status: "queued".into(),
            psu_present: present,
        }))
    })
    .await??;
    Ok(HttpResponse::Accepted().json(answer))
}

/// A connection's sync runs.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}/syncs",
    operation_id = "list_syncs",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "The newest runs first", body = SyncRunList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/connections/{id}/syncs", wrap = "from_fn(require_api_key)")]
pub async fn list(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("connection"));
    }
    let runs = store::run(&state.pool, move |conn| {
        if connections::find_for_client(conn, &id, &client.0.id)?.is_none() {
            return Ok(None);
        }
        let mut runs = sync_runs::list_for_connection(conn, &id)?;
        runs.truncate(100);
        Ok(Some(runs))
    })
    .await?
    .ok_or(ApiError::NotFound("connection"))?;
    Ok(HttpResponse::Ok().json(SyncRunList {
        syncs: runs.into_iter().map(SyncRunView::from).collect(),
    }))
}
