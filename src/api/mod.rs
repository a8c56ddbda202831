//! The JSON API for budgeting apps: API-key auth, problem+json errors, one file per resource.

pub mod accounts;
pub mod auth;
pub mod banks;
pub mod connections;
pub mod error;
pub mod feed_cache;
pub mod health;
pub mod json;
pub mod openapi;

use actix_web::web;

use error::ApiError;

/// Mounts the API's routes, with body, path and query errors answered as problem documents.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(64 * 1024)
            .error_handler(|e, _| ApiError::invalid("body", e.to_string()).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::invalid("query", e.to_string()).into()),
    )
    .app_data(
        web::PathConfig::default()
            .error_handler(|e, _| ApiError::invalid("path", e.to_string()).into()),
    )
    .service(health::healthz)
    .service(health::readyz)
    .service(openapi::document)
    .service(openapi::page)
    .service(banks::list)
    .service(connections::create)
    .service(connections::list)
    .service(connections::show)
    .service(connections::reauthorize)
    .service(connections::remove)
    .service(accounts::list_for_user)
    .service(accounts::show)
    .service(accounts::list_balances)
    .service(accounts::list_transactions);
}
