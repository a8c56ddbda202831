//! `GET /v1/sca/{id}` and `POST /v1/sca/{id}`: one shape for every provider's strong customer
//! authentication. A response that needs the user carries `"sca": {...}` (the 201 of a new
//! connection, the 409 `sca_required` of a refused read); the app follows it here: it polls a
//! `redirect` or `decoupled` challenge, and submits an `otp` or a `signed_proof`.

use actix_web::middleware::from_fn;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{require_api_key, ApiClient};
use super::body::{absent_or_value, JsonObject};
use super::error::ApiError;
use super::responses::{
    BankUnavailable, Conflict, Internal, NotFound, Unauthorized, ValidationFailed,
};
use crate::bank::Connectors;
use crate::connect::link::IssuedLink;
use crate::connect::sca::{self, ScaChallenge, ScaError, Submission};
use crate::connect::session::{self, SessionError};
use crate::model::{ScaAction, ScaKind, ScaKindName, ScaStatus};
use crate::state::AppState;

/// An SCA challenge: what the user must do, and where it stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScaView {
    /// The challenge id, for `GET`/`POST /v1/sca/{id}`.
    pub id: String,
    /// How the user resolves it: `redirect` (send the browser to `url`), `otp` (submit the
    /// code the user received), `decoupled` (the user approves in their bank's app; poll),
    /// `signed_proof` (the user's device signs `data`; submit the proof).
    pub kind: ScaKindName,
    /// `created`, `awaiting_user`, `succeeded`, `failed`, `expired`, `locked` or `consumed`.
    pub status: ScaStatus,
    /// What it authenticates for.
    pub action: ScaAction,
    /// The connection it belongs to.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being answerable.
    pub expires_at: DateTime<Utc>,
    /// When it succeeded, failed, expired or locked.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// How the user authenticated (RFC 8176 `amr`), once it succeeded.
    pub amr: Vec<String>,
    /// Why it failed (the journey's error code).
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// `redirect`: where to send the user's browser. Only in the answer that issued it: it
    /// works as a bearer, so it is never stored in clear nor shown again.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `otp`: wrong codes still allowed before the challenge locks.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// `decoupled`: how often to poll, in seconds.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_seconds: Option<u32>,
    /// `decoupled`: when the provider stops waiting.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// `signed_proof`: what the user's device must sign.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl ScaView {
    /// The challenge a refused read answers with (a connect link the sync issued).
    pub fn required(link: &IssuedLink, connection_id: &str, action: ScaAction) -> Self {
        Self {
            action,
            ..Self::redirect_issued(link, connection_id)
        }
    }

    /// The view of a stored challenge.
    pub fn of(challenge: &ScaChallenge) -> Self {
        let mut view = Self {
            id: challenge.id.clone(),
            kind: challenge.kind.name(),
            status: challenge.status,
            action: challenge.action,
            connection_id: challenge.connection_id.clone(),
            created_at: challenge.created_at,
            expires_at: challenge.expires_at,
            resolved_at: challenge.resolved_at,
            amr: challenge.amr.clone(),
            failure: challenge.failure.clone(),
            url: None,
            attempts_left: None,
            poll_interval_seconds: None,
            deadline: None,
            data: None,
        };
        match &challenge.kind {
            ScaKind::Redirect { url } => view.url = url.clone(),
            ScaKind::Otp {
                expires_at,
                attempts_left,
            } => {
                view.expires_at = *expires_at;
                view.attempts_left = Some(*attempts_left);
            }
            ScaKind::Decoupled {
                poll_interval_seconds,
                deadline,
            } => {
                view.poll_interval_seconds = Some(*poll_interval_seconds);
                view.deadline = Some(*deadline);
            }
            ScaKind::SignedProof { data } => view.data = Some(data.clone()),
        }
        view
    }

    /// The view of a connect link just issued, with its URL (the only time it is shown).
    pub fn redirect_issued(link: &IssuedLink, connection_id: &str) -> Self {
        Self {
            id: link.challenge_id.clone(),
            kind: ScaKindName::Redirect,
            status: ScaStatus::Created,
            action: ScaAction::GrantAccess,
            connection_id: Some(connection_id.to_owned()),
            created_at: link.created_at.and_utc(),
            expires_at: link.expires_at.and_utc(),
            resolved_at: None,
            amr: Vec::new(),
            failure: None,
            url: Some(link.url.to_string()),
            attempts_left: None,
            poll_interval_seconds: None,
            deadline: None,
            data: None,
        }
    }
}

/// `POST /v1/sca/{id}`: a code, a proof, or nothing (a poll); never both, which the document
/// says with `maxProperties: 1`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(max_properties = 1)]
pub struct ScaSubmission {
    /// `otp` challenges: the code the user received.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "absent_or_value")]
    pub otp: Option<String>,
    /// `signed_proof` challenges: the proof the user's device produced.
    #[schema(nullable = false)]
    #[serde(default, deserialize_with = "absent_or_value")]
    pub proof: Option<String>,
}

impl From<ScaError> for ApiError {
    fn from(e: ScaError) -> Self {
        match e {
            ScaError::NotFound => ApiError::NotFound("SCA challenge"),
            ScaError::NotPending(_) => {
                ApiError::Conflict("the SCA challenge is over: nothing can be submitted to it")
            }
            ScaError::KindMismatch(_) => ApiError::Conflict(
                "this SCA challenge is not answered that way (a redirect is resolved in the \
                 user's browser)",
            ),
            ScaError::Store(e) => ApiError::Store(e),
            ScaError::Corrupt(e) => ApiError::Internal(e.into()),
        }
    }
}

/// An SCA challenge of one of the API client's connections.
#[utoipa::path(
    get,
    path = "/v1/sca/{id}",
    operation_id = "get_sca_challenge",
    params(("id" = String, Path, description = "SCA challenge id")),
    responses(
        (status = 200, description = "The challenge", body = ScaView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[get("/v1/sca/{id}", wrap = "from_fn(require_api_key)")]
pub async fn show(
    client: ApiClient,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("SCA challenge"));
    }
    let challenge = sca::show(&state, &client.0.id, &id).await?;
    Ok(HttpResponse::Ok().json(ScaView::of(&challenge)))
}

/// Answers a challenge with the user's code or proof, or polls it with an empty object.
#[utoipa::path(
    post,
    path = "/v1/sca/{id}",
    operation_id = "submit_sca_challenge",
    params(("id" = String, Path, description = "SCA challenge id")),
    request_body = ScaSubmission,
    responses(
        (status = 200, description = "The challenge after the submission", body = ScaView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
    ),
    security(("api_key" = []))
)]
#[post("/v1/sca/{id}", wrap = "from_fn(require_api_key)")]
pub async fn submit(
    client: ApiClient,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    id: web::Path<String>,
    body: JsonObject<ScaSubmission>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !super::may_exist(&id) {
        return Err(ApiError::NotFound("SCA challenge"));
    }
    let submission = match body.into_inner() {
        ScaSubmission {
            otp: Some(_),
            proof: Some(_),
        } => return Err(ApiError::invalid("body", "send `otp` or `proof`, not both")),
        ScaSubmission { otp: Some(otp), .. } => Submission::Otp(otp),
        ScaSubmission {
            proof: Some(proof), ..
        } => Submission::Proof(proof),
        ScaSubmission { .. } => Submission::Poll,
    };
    let challenge = sca::submit(&state, &connectors, &client.0.id, &id, submission).await?;
    Ok(HttpResponse::Ok().json(ScaView::of(&challenge)))
}

/// How the user opens the session.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// The user's device signs `data` in the app (the default).
    SignedProof,
    /// The user approves in the provider's app on their phone; the app polls.
    Decoupled,
}

/// `POST /v1/connections/{id}/sca-session` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// `signed_proof` (default) or `decoupled`.
    #[param(inline)]
    pub kind: Option<SessionKind>,
}

/// Asks for an SCA session opened with a proof from the user's device (Treezor: the wallets
/// list and operations older than 90 days are per-session reads). Answers the `signed_proof`
/// challenge: the user's device signs its `data`, the app submits the proof to
/// `POST /v1/sca/{id}`; Passerelle then opens the session at the provider, declares what the
/// proof secured (Treezor's External Operations) and syncs the connection in that session.
/// With `kind=decoupled` the user approves in the provider's app instead, and the app polls
/// `POST /v1/sca/{id}` with `{}` until the challenge ends.
#[utoipa::path(
    post,
    path = "/v1/connections/{id}/sca-session",
    operation_id = "open_sca_session",
    params(("id" = String, Path, description = "Connection id"), SessionQuery),
    responses(
        (status = 201, description = "The challenge to resolve", body = ScaView),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = ValidationFailed),
        (status = 500, response = Internal),
        (status = 502, response = BankUnavailable),
    ),
    security(("api_key" = []))
)]
#[post("/v1/connections/{id}/sca-session", wrap = "from_fn(require_api_key)")]
pub async fn open_session(
    client: ApiClient,
    state: web::Data<AppState>,
    connectors: web::Data<Connectors>,
    id: web::Path<String>,
    query: web::Query<SessionQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let method = match query.into_inner().kind {
        None | Some(SessionKind::SignedProof) => session::SessionMethod::DeviceProof,
        Some(SessionKind::Decoupled) => session::SessionMethod::AppApproval,
    };
    let row = crate::store::run(&state.pool, move |conn| {
        Ok(super::connections::owned(conn, &client.0, &id).map(|(row, _)| row))
    })
    .await??;
    let challenge = session::issue(&state, &connectors, &row, method)
        .await
        .map_err(|e| match e {
            SessionError::Unsupported => ApiError::Conflict(
                "this connection's provider opens no SCA session with a device proof",
            ),
            SessionError::NotActive => {
                ApiError::Conflict("only an active connection has a session to open")
            }
            SessionError::Bank(e) => ApiError::Bank(e.to_string()),
            SessionError::Store(e) => ApiError::Store(e),
            other => ApiError::Internal(other.into()),
        })?;
    Ok(HttpResponse::Created().json(ScaView::of(&challenge)))
}
