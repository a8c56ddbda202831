//! `GET /v1/banks`: the bank registry with each bank's capabilities.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use super::auth::ApiClient;
use crate::app::AppState;

/// Every bank Passerelle can connect to, with its capabilities.
#[utoipa::path(get, path = "/v1/banks",
    responses((status = 200, description = "`{\"banks\": [...]}`: the registry's bank profiles"),
              (status = 401, body = super::error::Problem)),
    security(("api_key" = [])))]
#[allow(dead_code)]
pub(crate) fn list_doc() {}

/// Lists every bank Passerelle can connect to.
#[get("/v1/banks")]
pub async fn list(_client: ApiClient, state: web::Data<AppState>) -> HttpResponse {
    let banks: Vec<_> = state.registry.banks().collect();
    HttpResponse::Ok().json(json!({ "banks": banks }))
}
