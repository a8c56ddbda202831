//! The JSON API for budgeting apps: API-key auth, problem+json errors, one file per resource.

pub mod auth;
pub mod banks;
pub mod error;
pub mod health;

use actix_web::web;

/// Mounts the API's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(banks::list);
}
