//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;
use crate::store;

/// `GET /healthz` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(value_type = String, pattern = "^ok$", example = "ok")]
    pub status: &'static str,
}

/// `GET /readyz` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// Whether the database answers and is migrated.
    pub status: ReadinessStatus,
    /// The database backend: `sqlite` or `postgres`.
    #[schema(value_type = String, example = "sqlite")]
    pub database: &'static str,
}

/// Where the database stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    /// Answers, every migration applied.
    Ready,
    /// Answers, but migrations are pending.
    MigrationsPending,
    /// Does not answer.
    DatabaseUnreachable,
}

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz",
    responses((status = 200, description = "Up", body = Health)))]
#[allow(dead_code)]
pub(crate) fn healthz_doc() {}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", responses(
    (status = 200, description = "Ready", body = Readiness),
    (status = 503, description = "Database unreachable or migrations pending", body = Readiness),
))]
#[allow(dead_code)]
pub(crate) fn readyz_doc() {}

/// `GET /healthz`: the process is up and serving.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// `GET /readyz`: the database answers and every migration is applied.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let database = state.config.database_url.backend_name();
    let check = store::run(&state.pool, store::migrations_complete).await;
    let status = match check {
        Ok(true) => ReadinessStatus::Ready,
        Ok(false) => ReadinessStatus::MigrationsPending,
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            ReadinessStatus::DatabaseUnreachable
        }
    };
    let mut response = match status {
        ReadinessStatus::Ready => HttpResponse::Ok(),
        _ => HttpResponse::ServiceUnavailable(),
    };
    response.json(Readiness { status, database })
}

/// `GET /metrics`: the Prometheus text exposition (see [`crate::metrics`]). Aggregates only: no
/// id, account or token is ever a label.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::exposition(&state.pool, &state.config.certs).await)
}
