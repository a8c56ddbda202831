//! The JSON API for budgeting apps: API-key auth, problem+json errors, one file per resource.

pub mod accounts;
pub mod auth;
pub mod banks;
pub mod body;
pub mod connections;
pub mod error;
pub mod feed_cache;
pub mod funds;
pub mod gocardless;
pub mod health;
pub mod json;
pub mod openapi;
pub mod payments;
pub mod provider_webhooks;
pub mod quota_budget;
pub mod responses;
pub mod sca;
pub mod simplefin;
pub mod syncs;
pub mod webhooks;

use actix_web::{web, HttpResponse};

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
    .service(health::metrics)
    .service(openapi::document)
    .service(openapi::page)
    .service(banks::list)
    .service(connections::create)
    .service(connections::list)
    .service(connections::show)
    .service(connections::reauthorize)
    .service(sca::open_session)
    .service(connections::remove)
    .service(syncs::request)
    .service(syncs::list)
    .service(accounts::list_for_user)
    .service(accounts::show)
    .service(accounts::list_balances)
    .service(accounts::list_transactions)
    .service(accounts::changes::list_changes)
    .service(payments::create::create)
    .service(funds::confirm)
    .service(payments::list)
    .service(payments::show)
    .service(gocardless::create)
    .service(gocardless::revoke)
    .service(simplefin::create)
    .service(simplefin::list)
    .service(simplefin::revoke)
    .service(sca::show)
    .service(sca::submit)
    .service(webhooks::create)
    .service(webhooks::list)
    .service(webhooks::remove)
    .service(webhooks::deliveries)
    .service(webhooks::actions::rotate_secret)
    .service(webhooks::actions::test)
    .service(webhooks::actions::redeliver);
    method_not_allowed(cfg);
}

/// Answers 405 with `Allow` for a method a known path does not have, instead of the 404 an
/// unknown path gets. Each path's methods are read from the OpenAPI document, so `Allow` and
/// the document cannot disagree. These resources are registered after the handlers: a request
/// reaches one only when no handler's method matched (their method guards make the router move
/// on), and HEAD and OPTIONS are not served, so they are answered 405 too.
fn method_not_allowed(cfg: &mut web::ServiceConfig) {
    let document = <openapi::ApiDoc as utoipa::OpenApi>::openapi();
    let mut paths: Vec<(String, String)> = document
        .paths
        .paths
        .iter()
        .map(|(path, item)| (path.clone(), openapi::methods(item).join(", ")))
        .collect();
    // Served beside the API but not described by it.
    paths.push(("/openapi.json".into(), "GET".into()));
    paths.push(("/docs".into(), "GET".into()));
    paths.push(("/metrics".into(), "GET".into()));
    for (path, allow) in paths {
        cfg.service(web::resource(path).default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
        })));
    }
}

/// Whether `id`, taken from a request, could name a stored row. None holds NUL (our ids are
/// UUIDs, and PostgreSQL's text cannot), and a query binding one fails on PostgreSQL instead of
/// finding nothing: such an id is answered 404 without asking the database.
pub(crate) fn may_exist(id: &str) -> bool {
    !id.contains('\0')
}
