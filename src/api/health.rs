//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::app::AppState;
use crate::store;

/// The process is up and serving.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Up")))]
#[allow(dead_code)]
pub(crate) fn healthz_doc() {}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Database unreachable or migrations pending"),
))]
#[allow(dead_code)]
pub(crate) fn readyz_doc() {}

/// `GET /healthz`: the process is up and serving.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and every migration is applied.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let backend = state.config.database_url.backend_name();
    let check = store::run(&state.pool, store::migrations_complete).await;
    match check {
        Ok(true) => HttpResponse::Ok().json(json!({ "status": "ready", "database": backend })),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .json(json!({ "status": "migrations_pending", "database": backend })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "database_unreachable", "database": backend }))
        }
    }
}
