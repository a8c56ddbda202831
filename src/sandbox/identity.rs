//! `GET /end-user-identity` (STET 1.4.2; 403 without a `psuIdentity` consent) and
//! `GET /trusted-beneficiaries` (501: not offered by this ASPSP, as the portal says).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::accounts::{charge, consent};
use super::error::StetError;
use super::oauth::Scope;
use super::personas;
use super::state::SandboxState;
use super::transport::authenticate;
use super::{api_base, hal, link};

/// `GET /end-user-identity`.
pub async fn get(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    let persona =
        personas::by_id(call.psu()?).ok_or_else(|| StetError::forbidden("unknown PSU"))?;
    if !consent(&state, &call)?.is_some_and(|c| c.psu_identity) {
        return Err(StetError::forbidden(
            "the PSU has not consented to share their identity",
        ));
    }
    charge(&state, &call, "", "end-user-identity")?;
    let base = api_base(&call.bank);
    Ok(hal(
        StatusCode::OK,
        &json!({
            "connectedPsu": persona.identity,
            "_links": {
                "self": link(format!("{base}/end-user-identity"), false),
                "parent-list": link(format!("{base}/accounts"), false),
            },
        }),
    ))
}

/// `GET /trusted-beneficiaries`.
pub async fn trusted_beneficiaries(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, StetError> {
    let call = authenticate(&req, &body, &state)?;
    call.require(Scope::Aisp)?;
    Err(StetError::NotImplemented(
        "trusted beneficiaries are not available at this ASPSP".into(),
    ))
}
