//! The device stand-in (pages listener, sandbox only): the user's phone with Treezor's SDK.
//! `POST /treezor/device/{userId}/sign` signs `{url, body}` now; `GET /treezor/device/{userId}`
//! lists the PENDING scaOperations with approve/refuse forms posting to
//! `/treezor/device/{userId}/operations/{id}`.

use std::collections::HashMap;

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use super::error::TreezorError;
use super::oauth::error_page;
use super::sca::sign_proof;
use super::sca_operations::{self, ScaStatus};
use super::state::TreezorState;
use crate::sandbox::pages::escape;

/// `POST /treezor/device/{userId}/sign`: `{"url":…,"body":{…}}` → `{"scaProof":…}`.
pub async fn sign(
    path: web::Path<u64>,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, TreezorError> {
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| TreezorError::invalid(format!("the body must be JSON: {e}")))?;
    let url = payload
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| TreezorError::invalid("url is required"))?;
    let signed = payload.get("body").cloned().unwrap_or_else(|| json!({}));
    let proof = sign_proof(&state.keys, *path, url, &signed, state.now())?;
    Ok(HttpResponse::Ok().json(json!({ "scaProof": proof })))
}

/// `GET /treezor/device/{userId}`: the pending operations.
pub async fn pending(path: web::Path<u64>, state: web::Data<TreezorState>) -> HttpResponse {
    let user = *path;
    let inner = state.lock();
    let mut items = String::new();
    for op in inner
        .sca_operations
        .iter()
        .filter(|o| o.user_id == user && o.status == ScaStatus::Pending)
    {
        items.push_str(&format!(
            "<li><p>{what}</p><form method=\"post\" action=\"/treezor/device/{user}/operations/{id}\">\
             <button type=\"submit\" name=\"action\" value=\"approve\">Approuver</button>\
             <button type=\"submit\" name=\"action\" value=\"refuse\">Refuser</button></form></li>\n",
            what = escape(&format!("{} — {}", op.action_name, op.action_description)),
            id = escape(&op.id),
        ));
    }
    let body = if items.is_empty() {
        "<p>Aucune opération en attente.</p>".to_owned()
    } else {
        format!("<ul>\n{items}</ul>")
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(format!(
            "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>Appareil</title>\
             </head>\n<body>\n<h1>Opérations à valider</h1>\n{body}\n</body></html>\n"
        ))
}

/// `POST /treezor/device/{userId}/operations/{id}`: approve or refuse, then back to the list.
pub async fn answer(
    path: web::Path<(u64, String)>,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> HttpResponse {
    let (user, id) = path.into_inner();
    let now = state.now();
    let mut inner = state.lock();
    if !inner
        .sca_operations
        .iter()
        .any(|o| o.id == id && o.user_id == user)
    {
        return error_page(StatusCode::NOT_FOUND, "Unknown operation");
    }
    let done = match form.get("action").map(String::as_str) {
        Some("approve") => sca_operations::approve(&mut inner, &state.keys, &id, now),
        Some("refuse") => sca_operations::refuse(&mut inner, &id, now),
        _ => return error_page(StatusCode::BAD_REQUEST, "Unknown action"),
    };
    match done {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((LOCATION, format!("/treezor/device/{user}")))
            .finish(),
        Err(e) => error_page(StatusCode::CONFLICT, &e.to_string()),
    }
}
