//! What every STET API call must carry, checked like a real ASPSP gateway: `X-Request-ID`, a
//! draft-cavage `Signature` by the registered QSEAL key (keyId = client id, the BPCE profile),
//! a matching `Digest` on bodies, a QWAC of the same organisation, and a live access token for
//! this bank. Signature problems answer 400 as the portal says; token problems 401.

use actix_web::http::header::HeaderMap;
use actix_web::{HttpMessage, HttpRequest};
use openssl::x509::X509;

use super::error::StetError;
use super::oauth::{Scope, Scopes};
use super::state::SandboxState;
use super::BANK_CODES;
use crate::httpsig::{self, HeaderSource};
use crate::tls::certs::organization_identifier;

/// The client certificate presented in the TLS handshake, stored per connection.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub X509);

/// Set on a request by fault injection: revoke its access token before checking it.
#[derive(Debug, Clone, Copy)]
pub struct RevokeTokenEarly;

/// `X-Request-ID` may be at most this long (STET).
const MAX_REQUEST_ID: usize = 70;

/// A checked API call.
#[derive(Debug, Clone)]
pub struct ApiCall {
    /// The bank (codetab) from the path.
    pub bank: String,
    /// The TPP.
    pub client_id: String,
    /// The PSU the token was granted by (`None` for client credentials).
    pub psu: Option<String>,
    /// The token's scopes.
    pub scope: Scopes,
    /// Whether `PSU-IP-Address` was sent (the PSU is present: no batch limit).
    pub psu_present: bool,
}

impl ApiCall {
    /// 403 unless the token has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), StetError> {
        if self.scope.contains(scope) {
            Ok(())
        } else {
            Err(StetError::forbidden(format!(
                "the access token's scope is not {}",
                scope.as_str()
            )))
        }
    }

    /// The PSU, or 403 for a token without one.
    pub fn psu(&self) -> Result<&str, StetError> {
        self.psu
            .as_deref()
            .ok_or_else(|| StetError::forbidden("this access token has no PSU"))
    }
}

struct Headers<'a>(&'a HeaderMap);

impl HeaderSource for Headers<'_> {
    fn visit_values(&self, name: &str, visit: &mut dyn FnMut(&[u8])) {
        for value in self.0.get_all(name) {
            visit(value.as_bytes());
        }
    }
}

/// The bank code in the path, or 404.
pub fn bank_of(req: &HttpRequest) -> Result<String, StetError> {
    let bank = req.match_info().get("bank").unwrap_or_default();
    if BANK_CODES.contains(&bank) {
        Ok(bank.to_owned())
    } else {
        Err(StetError::not_found(format!("no sandbox bank {bank}")))
    }
}

/// The organisation identifier of the connection's client certificate, if any.
pub fn peer_organization(req: &HttpRequest) -> Option<String> {
    req.conn_data::<PeerCertificate>()
        .and_then(|cert| organization_identifier(&cert.0))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks the transport, the signature and the token of an API call.
pub fn authenticate(
    req: &HttpRequest,
    body: &[u8],
    state: &SandboxState,
) -> Result<ApiCall, StetError> {
    let bank = bank_of(req)?;
    match header(req, "x-request-id") {
        Some(id) if !id.trim().is_empty() && id.len() <= MAX_REQUEST_ID => {}
        _ => return Err(StetError::bad_request("X-Request-ID is required")),
    }
    check_signature(req, body, state)?;
    if peer_organization(req).as_deref() != Some(state.client_id.as_str()) {
        return Err(StetError::forbidden(
            "the client certificate does not belong to this client_id",
        ));
    }
    let token = header(req, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| StetError::InvalidToken("a Bearer access token is required".into()))?;
    let now = state.now();
    let mut inner = state.lock();
    if req.extensions().get::<RevokeTokenEarly>().is_some() {
        if let Some(grant) = inner.grants.get_mut(token) {
            grant.revoked = true;
        }
    }
    let grant = inner
        .grants
        .get(token)
        .filter(|g| !g.revoked)
        .ok_or_else(|| StetError::InvalidToken("unknown or revoked access token".into()))?;
    if grant.access_expires_at <= now {
        return Err(StetError::InvalidToken(
            "the access token has expired".into(),
        ));
    }
    if grant.bank != bank {
        return Err(StetError::InvalidToken(
            "this access token was issued by another bank".into(),
        ));
    }
    if grant.client_id != state.client_id {
        return Err(StetError::forbidden(
            "this access token belongs to another TPP",
        ));
    }
    Ok(ApiCall {
        bank,
        client_id: grant.client_id.clone(),
        psu: grant.psu.clone(),
        scope: grant.scope,
        psu_present: header(req, "psu-ip-address").is_some_and(|v| !v.trim().is_empty()),
    })
}

/// 400 unless the request is signed by the registered QSEAL key over at least
/// `(request-target)`, `x-request-id`, `digest` when there is a body, and `psu-ip-address` when
/// sent (otherwise anyone on the path could add it to dodge the batch limit).
fn check_signature(req: &HttpRequest, body: &[u8], state: &SandboxState) -> Result<(), StetError> {
    let bad = |what: &str| StetError::bad_request(format!("invalid signature: {what}"));
    let value = header(req, "signature").ok_or_else(|| bad("the Signature header is missing"))?;
    let params = httpsig::parse_signature_header(value).map_err(|e| bad(&e.to_string()))?;
    if params.key_id != state.client_id {
        return Err(bad("unknown keyId (expected the client_id)"));
    }
    let digest = header(req, "digest");
    let mut required = vec![httpsig::REQUEST_TARGET, "x-request-id"];
    if !body.is_empty() {
        required.push("digest");
        if digest.is_none() {
            return Err(bad("a request with a body must carry a Digest"));
        }
    }
    if header(req, "psu-ip-address").is_some() {
        required.push("psu-ip-address");
    }
    if let Some(missing) = required.iter().find(|h| !params.signs(h)) {
        return Err(bad(&format!("`{missing}` is not signed")));
    }
    if let Some(digest) = digest {
        httpsig::verify_digest(digest, body).map_err(|e| bad(&e.to_string()))?;
    }
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    state
        .qseal
        .verify(
            &params,
            req.method().as_str(),
            target,
            &Headers(req.headers()),
        )
        .map_err(|e| bad(&e.to_string()))
}
