//! SimpleFIN accesses of a user: `POST /v1/users/{user_id}/simplefin` (a setup token to paste
//! into the app), `GET /v1/users/{user_id}/simplefin` (the accesses, with their last use),
//! `DELETE /v1/simplefin/{id}` (revoked at once). The protocol itself is `crate::compat`'s.

use actix_web::middleware::from_fn;
use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::connections::{valid_user_id, UserPath};
use super::error::ApiError;
use super::responses::{Internal, NotFound, Unauthorized, ValidationFailed};
use crate::compat::simplefin::{new_access, AccessError};
use crate::state::AppState;
use crate::store::models::SimplefinAccessRow;
use crate::store::{self, simplefin, users};

/// A SimpleFIN access as the app sees it (never its credentials).
#[derive(Debug, Serialize, ToSchema)]
pub struct SimplefinAccess {
    /// Passerelle's id for the access.
    pub id: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Until when its setup token may be claimed.
    pub claim_expires_at: DateTime<Utc>,
    /// When an app claimed it (its credentials exist from then on).
    pub claimed_at: Option<DateTime<Utc>>,
    /// When an app last read with it (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<SimplefinAccessRow> for SimplefinAccess {
    fn from(row: SimplefinAccessRow) -> Self {
        Self {
            id: row.id,
            created_at: row.created_at.and_utc(),
            claim_expires_at: row.claim_expires_at.and_utc(),
            claimed_at: row.claimed_at.map(|t| t.and_utc()),
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
        }
    }
}

/// A new access: its setup token, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimplefinSetup {
    /// The access.
    #[serde(flatten)]
    pub access: SimplefinAccess,
    /// Paste this into the app (Actual Budget, Firefly III's importer, …): the base64 of a
    /// one-time claim URL on Passerelle. A bearer: shown only here.
    pub setup_token: String,
}

/// A user's accesses.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimplefinAccessList {
    /// Oldest first.
    pub accesses: Vec<SimplefinAccess>,
}

impl From<AccessError> for ApiError {
    fn from(e: AccessError) -> Self {
        ApiError::Internal(Box::new(e))
    }
}

/// Creates a SimpleFIN access for a user: a setup token the user pastes into their app.
#[utoipa::path(
    post,
    path = "/v1/users/{user_id}/simplefin",
    operation_id = "create_simplefin_access",
    params(UserPath),
    responses(
        (status = 201, description = "The access and its setup token (valid 1 hour, claimable once)", body = SimplefinSetup),
        (status = 401, response = Unauthorized),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/users/{user_id}/simplefin", wrap = "from_fn(require_api_key)")]
pub async fn create(
    client: ApiClient,
    state: web::Data<AppState>,
    path: web::Path<UserPath>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path.into_inner().user_id;
    valid_user_id(&user_id)?;
    let (public_url, now) = (state.config.public_url.clone(), state.clock.stored_now());
    let setup = store::run(&state.pool, move |conn| {
        Ok(store::write_transaction(conn, |conn| {
            let user = users::find_or_create(conn, &client.0.id, &user_id)?;
            let made = match new_access(&public_url, &client.0.id, &user.id, now) {
                Ok(made) => made,
                Err(e) => return Ok(Err(ApiError::from(e))),
            };
            simplefin::insert(conn, &made.row)?;
            Ok::<_, diesel::result::Error>(Ok(SimplefinSetup {
                access: made.row.into(),
                setup_token: made.setup_token,
            }))
        })?)
    })
    .await??;
    Ok(HttpResponse::Created().json(setup))
}

/// Lists a user's SimpleFIN accesses.
#[utoipa::path(
    get,
    path = "/v1/users/{user_id}/simplefin",
    operation_id = "list_simplefin_accesses",
    params(UserPath),
    responses(
        (status = 200, description = "The user's accesses", body = SimplefinAccessList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/users/{user_id}/simplefin", wrap = "from_fn(require_api_key)")]
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
        Ok(Ok(simplefin::list_for_user(conn, &user.id)?
            .into_iter()
            .map(SimplefinAccess::from)
            .collect::<Vec<_>>()))
    })
    .await??;
    Ok(HttpResponse::Ok().json(SimplefinAccessList { accesses: list }))
}

/// Revokes a SimpleFIN access: its credentials (or unclaimed token) stop working at once.
#[utoipa::path(
    delete,
    path = "/v1/simplefin/{id}",
    operation_id = "revoke_simplefin_access",
    params(("id" = String, Path, description = "The access id")),
    responses(
        (status = 204, description = "Revoked (or revoked already)"),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[delete("/v1/simplefin/{id}", wrap = "from_fn(require_api_key)")]
pub async fn revoke(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("SimpleFIN access"));
    }
    let now = state.clock.stored_now();
    store::run(&state.pool, move |conn| {
        if simplefin::find_for_client(conn, &id, &client.0.id)?.is_none() {
            return Ok(Err(ApiError::NotFound("SimpleFIN access")));
        }
        simplefin::revoke(conn, &id, now)?;
        Ok(Ok(()))
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}
