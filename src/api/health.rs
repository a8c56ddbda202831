//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::app::AppState;
use crate::store;

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
