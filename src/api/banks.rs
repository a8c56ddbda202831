//! `GET /v1/banks`: the bank registry with each bank's capabilities.

use actix_web::{get, web, HttpResponse};
use serde_json::json;

use super::auth::ApiClient;
use crate::app::AppState;

/// Lists every bank Passerelle can connect to.
#[get("/v1/banks")]
pub async fn list(_client: ApiClient, state: web::Data<AppState>) -> HttpResponse {
    let banks: Vec<_> = state.registry.banks().collect();
    HttpResponse::Ok().json(json!({ "banks": banks }))
}
