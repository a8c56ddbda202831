//! Connections: a user's link to one bank. Creating one returns the `connect_url` the app sends
//! its user to; the journey pages (`web`) take it from there.

use actix_web::middleware::from_fn;
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;
use utoipa::{IntoParams, ToSchema};

use super::auth::{require_api_key, ApiClient};
use super::body::JsonObject;
use super::error::ApiError;
use super::responses::{Conflict, Internal, NotFound, Unauthorized, ValidationFailed};
use super::sca::ScaView;
use crate::bank::{factory, Connectors};
use crate::connect::{link, revoke};
use crate::model::ConnectionStatus;
use crate::model::ScaAction;
use crate::state::AppState;
use crate::store::models::{ApiClientRow, ConnectionRow};
use crate::store::{self, accounts, connections, users, DbConnection};

/// How long a `connect_url` stays usable.
pub use crate::connect::link::CONNECT_LINK_TTL_MINUTES;

/// The longest user id, in characters.
pub const USER_ID_MAX_CHARS: usize = 128;

/// The `{user_id}` of a path: what the app calls its user. The document states the rule
/// [`valid_user_id`] enforces (a pattern cannot say "no control character" more plainly than
/// by listing Unicode's Cc ranges).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The app's own id for its user: 1 to 128 characters, none of them a control character.
    #[param(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$",
        example = "user-42"
    )]
    pub user_id: String,
}

/// `POST /v1/users/{user_id}/connections` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnection {
    /// A bank id from `GET /v1/banks`.
    #[schema(example = "banque-bcp")]
    pub bank_id: String,
    /// Where the user's browser returns when the journey ends; https (or loopback http), and
    /// within the API client's registered allow-list.
    #[schema(format = "uri", example = "https://app.example/banks/done")]
    pub redirect_url: String,
}

/// A connection as the app sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionView {
    /// Passerelle's id for the connection.
    pub id: String,
    /// The app's own id for the user.
    pub user_id: String,
    /// The bank.
    pub bank_id: String,
    /// Where the connection stands.
    #[schema(value_type = ConnectionStatus, example = "active")]
    pub status: String,
    /// Scopes the bank granted.
    pub scopes: Vec<String>,
    /// Ids of the accounts shared through this connection.
    pub accounts: Vec<String>,
    /// When the consent (and the refresh token) expires: SCA + 180 days.
    pub consent_expires_at: Option<DateTime<Utc>>,
    /// When the last successful sync finished.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// Stable error code when `status` is `error`.
    pub error: Option<String>,
    /// Where the user returns after the journey.
    pub redirect_url: String,
    /// When the connection was created.
    pub created_at: DateTime<Utc>,
    /// Only on `GET /v1/connections/{id}`: the unattended calls left today per account and
    /// method, when they reset, and the next scheduled sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub quota: Option<super::quota_budget::QuotaBudget>,
}

/// A link that starts (or restarts) the bank journey for a connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectLink {
    /// The connection.
    pub id: String,
    /// Its status.
    #[schema(value_type = ConnectionStatus, example = "pending")]
    pub status: String,
    /// Send the user's browser here.
    pub connect_url: String,
    /// The link stops working after this time.
    pub expires_at: DateTime<Utc>,
    /// The link as the `redirect` SCA challenge it is: follow it with `GET /v1/sca/{id}`.
    pub sca: ScaView,
}

/// A list of connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectionList {
    /// Oldest first.
    pub connections: Vec<ConnectionView>,
}

fn view(
    conn: &mut DbConnection,
    row: ConnectionRow,
    external_user_id: String,
) -> Result<ConnectionView, ApiError> {
    let accounts = accounts::list_for_connection(conn, &row.id)?
        .into_iter()
        .map(|a| a.id)
        .collect();
    Ok(ConnectionView {
        id: row.id,
        user_id: external_user_id,
        bank_id: row.bank_id,
        status: row.status,
        scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
        accounts,
        consent_expires_at: row.consent_expires_at.map(|t| t.and_utc()),
        last_synced_at: row.last_synced_at.map(|t| t.and_utc()),
        error: row.error_code,
        redirect_url: row.redirect_url,
        created_at: row.created_at.and_utc(),
        quota: None,
    })
}

/// Checks a user id from a path: what the app calls its user, kept short and printable. The
/// length counts characters, as the document's `maxLength` does, not UTF-8 bytes.
pub fn valid_user_id(user_id: &str) -> Result<(), ApiError> {
    if user_id.is_empty()
        || user_id.chars().count() > USER_ID_MAX_CHARS
        || user_id.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "user_id",
            "must be 1 to 128 printable characters",
        ));
    }
    Ok(())
}

/// Whether `candidate` may receive users: https, or http on a loopback host; same origin as an
/// allow-list entry and under its path (at a segment boundary, so `/app` does not allow `/apple`).
pub fn redirect_allowed(allowlist: &[String], candidate: &Url) -> bool {
    let loopback = matches!(
        candidate.host_str(),
        Some("127.0.0.1" | "[::1]" | "localhost")
    );
    let scheme_ok = candidate.scheme() == "https" || (candidate.scheme() == "http" && loopback);
    if !scheme_ok || candidate.fragment().is_some() || !candidate.username().is_empty() {
        return false;
    }
    allowlist
        .iter()
        .filter_map(|a| Url::parse(a).ok())
        .any(|allowed| {
            let path = allowed.path();
            let under = candidate.path() == path
                || candidate
                    .path()
                    .strip_prefix(path)
                    .is_some_and(|rest| path.ends_with('/') || rest.starts_with('/'));
            allowed.origin() == candidate.origin() && under
        })
}

pub(crate) fn allowlist(client: &ApiClientRow) -> Vec<String> {
    serde_json::from_str(&client.redirect_allowlist).unwrap_or_default()
}

/// Issues a connect link for `connection`: the journey's `redirect` SCA challenge, whose URL
/// only ever travels in this answer.
pub(crate) fn new_connect_link(
    conn: &mut DbConnection,
    state: &AppState,
    connection: &ConnectionRow,
) -> Result<ConnectLink, ApiError> {
    let issued = link::issue(
        conn,
        &state.config.public_url,
        &connection.id,
        ScaAction::GrantAccess,
        state.clock.stored_now(),
    )?;
    let expires_at = issued.expires_at.and_utc();
    Ok(ConnectLink {
        id: connection.id.clone(),
        status: connection.status.clone(),
        connect_url: issued.url.to_string(),
        expires_at,
        sca: ScaView::redirect_issued(&issued, &connection.id),
    })
}

/// Creates a pending connection and the link that starts the user's journey.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/connections",
    operation_id = "create_connection",
    params(UserPath),
    request_body = CreateConnection,
    responses(
        (status = 201, description = "The pending connection and its link", body = ConnectLink),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/users/{user_id}/connections", wrap = "from_fn(require_api_key)")]
pub async fn create(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<UserPath>,
    body: JsonObject<CreateConnection>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let body = body.into_inner();
    match state.registry.get(&body.bank_id) {
        None => return Err(ApiError::invalid("bank_id", "unknown bank")),
        Some(bank) if !factory::supports(bank) => {
            let reason = match &bank.unusable {
                Some(reason) => format!("this bank cannot be used: {reason}"),
                None => format!("no connector for the {} protocol yet", bank.protocol()),
            };
            return Err(ApiError::invalid("bank_id", reason));
        }
        Some(_) => {}
    }
    let redirect = Url::parse(&body.redirect_url)
        .map_err(|e| ApiError::invalid("redirect_url", e.to_string()))?;
    if !redirect_allowed(&allowlist(&client.0), &redirect) {
        return Err(ApiError::invalid(
            "redirect_url",
            "must be https (or loopback http) and within the API client's redirect allow-list",
        ));
    }
    let app = state.clone();
    let now = state.clock.stored_now();
    let link = store::run(&state.pool, move |conn| {
        Ok(crate::store::write_transaction(conn, |conn| {
            let user = users::find_or_create(conn, &client.0.id, &user_id)?;
            let row = ConnectionRow {
                id: store::new_id(),
                user_id: user.id,
                bank_id: body.bank_id,
                status: ConnectionStatus::Pending.as_str().into(),
                scopes: String::new(),
                redirect_url: redirect.to_string(),
                sca_at: None,
                consent_expires_at: None,
                last_synced_at: None,
                error_code: None,
                lease_owner: None,
                lease_until: None,
                created_at: now,
                updated_at: now,
                sca_browser_hash: None,
                sca_amr: None,
                sca_session: None,
            };
            connections::insert(conn, &row)?;
            new_connect_link(conn, &app, &row)
        }))
    })
    .await??;
    Ok(HttpResponse::Created().json(link))
}

/// Lists a user's connections.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/connections",
    operation_id = "list_connections",
    params(UserPath),
    responses(
        (status = 200, description = "The user's connections", body = ConnectionList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/users/{user_id}/connections", wrap = "from_fn(require_api_key)")]
pub async fn list(
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
        let rows = connections::list_for_user(conn, &user.id)?;
        Ok(rows
            .into_iter()
            .map(|row| view(conn, row, user.external_id.clone()))
            .collect::<Result<Vec<_>, _>>())
    })
    .await??;
    Ok(HttpResponse::Ok().json(ConnectionList { connections: list }))
}

/// Loads a connection of this API client with its user's external id, or 404.
pub(super) fn owned(
    conn: &mut DbConnection,
    client: &ApiClientRow,
    id: &str,
) -> Result<(ConnectionRow, String), ApiError> {
    if !super::may_exist(id) {
        return Err(ApiError::NotFound("connection"));
    }
    let row = connections::find_for_client(conn, id, &client.id)?
        .ok_or(ApiError::NotFound("connection"))?;
    let user = users::find_by_id(conn, &row.user_id)?.ok_or(ApiError::NotFound("connection"))?;
    Ok((row, user.external_id))
}

/// One connection.
#[utoipa::path(
    get,
    path = "/v1/connections/{id}",
    operation_id = "get_connection",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "The connection", body = ConnectionView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/connections/{id}", wrap = "from_fn(require_api_key)")]
pub async fn show(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let registry = state.registry.clone();
    let client_id = state.config.client_id.clone();
    let now = state.clock.now();
    let found = store::run(&state.pool, move |conn| {
        let (row, user) = match owned(conn, &client.0, &id) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        let budget = match registry.get(&row.bank_id) {
            Some(bank) => super::quota_budget::budget(conn, bank, &client_id, &row, now)?,
            None => None,
        };
        Ok(view(conn, row, user).map(|mut v| {
            v.quota = budget;
            v
        }))
    })
    .await??;
    Ok(HttpResponse::Ok().json(found))
}

/// A new `connect_url` for an existing connection: the user passes SCA again and keeps the
/// same connection, accounts and transaction ids.
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/reauthorize",
    operation_id = "reauthorize_connection",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 200, description = "A new link for the same connection", body = ConnectLink),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/connections/{id}/reauthorize", wrap = "from_fn(require_api_key)")]
pub async fn reauthorize(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let app = state.clone();
    let link = store::run(&state.pool, move |conn| {
        Ok(owned(conn, &client.0, &id).and_then(|(row, _)| {
            if row.is(ConnectionStatus::Revoked) {
                return Err(ApiError::Conflict(
                    "a revoked connection cannot be reauthorized",
                ));
            }
            new_connect_link(conn, &app, &row)
        }))
    })
    .await??;
    Ok(HttpResponse::Ok().json(link))
}

/// Revokes a connection: the refresh token is revoked at the bank (which revokes the access
/// token too), the tokens are wiped, the connection is marked revoked, and the data is kept or
/// deleted per `PASSERELLE_REVOKED_DATA`; an audit entry records who did it and whether the
/// bank confirmed. A bank that cannot be reached does not keep the tokens alive here. The
/// connection stays readable, with status `revoked`.
#[utoipa::path(
    delete,
    path = "/v1/connections/{id}",
    operation_id = "revoke_connection",
    params(("id" = String, Path, description = "Connection id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/connections/{id}", wrap = "from_fn(require_api_key)")]
pub async fn remove(
    client: ApiClient,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let client_id = client.0.id.clone();
    let row = store::run(&state.pool, move |conn| {
        Ok(owned(conn, &client.0, &id).map(|(row, _)| row))
    })
    .await??;
    revoke::revoke(&state, &connectors, row, client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(allowlist: &[&str], candidate: &str) -> bool {
        let owned: Vec<String> = allowlist.iter().map(|s| s.to_string()).collect();
        redirect_allowed(&owned, &Url::parse(candidate).unwrap())
    }

    #[test]
    fn redirects_must_be_https_or_loopback_and_within_the_allowlist() {
        let entries = ["https://app.example/banks", "http://127.0.0.1:3000/"];
        assert!(allowed(&entries, "https://app.example/banks"));
        assert!(allowed(&entries, "https://app.example/banks/done?x=1"));
        assert!(allowed(&entries, "http://127.0.0.1:3000/cb"));
        assert!(
            !allowed(&entries, "https://app.example/banksy"),
            "segment boundary"
        );
        assert!(!allowed(&entries, "https://app.example.evil.com/banks"));
        assert!(
            !allowed(&entries, "http://app.example/banks"),
            "plain http off loopback"
        );
        assert!(
            !allowed(&entries, "https://app.example:444/banks"),
            "other port"
        );
        assert!(!allowed(&entries, "http://127.0.0.1:3001/cb"));
        assert!(
            !allowed(&[], "https://app.example/banks"),
            "empty allow-list"
        );
        assert!(!allowed(&entries, "https://user@app.example/banks"));
    }

    #[test]
    fn user_ids_are_short_and_printable() {
        assert!(valid_user_id("user-42").is_ok());
        assert!(valid_user_id("").is_err());
        assert!(valid_user_id(&"x".repeat(129)).is_err());
        assert!(
            valid_user_id(&"é".repeat(128)).is_ok(),
            "characters are counted, not UTF-8 bytes, as the document's maxLength does"
        );
        assert!(valid_user_id("a\u{85}b").is_err(), "C1 controls too");
        assert!(valid_user_id("a\nb").is_err());
    }
}
