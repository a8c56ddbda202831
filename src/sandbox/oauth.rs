//! OAuth2 as the portal runs it: `authorize` (login page, then SMS OTP `12345678`), `token`
//! (authorization code without `scope`, rotating refresh tokens bounded by the 180-day SCA,
//! client credentials for PISP) and `revoke` (either token revokes both).

use std::collections::HashMap;

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use url::Url;

use super::error::OAuthError;
use super::pages;
use super::personas;
use super::state::{random_token, Inner, SandboxState};
use super::transport::{bank_of, peer_organization};
use super::SANDBOX_OTP;

/// How long an authorization code lives after the SCA.
pub const CODE_TTL: Duration = Duration::hours(1);
/// How old the last SCA may be for a refresh.
pub const SCA_VALIDITY: Duration = Duration::days(180);
/// How long a login page session lives.
const SESSION_TTL: Duration = Duration::minutes(30);

/// A token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Account information.
    Aisp,
    /// Payment initiation.
    Pisp,
    /// Funds confirmation.
    Cbpii,
}

impl Scope {
    /// Parses `aisp`, `pisp` or `cbpii`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "aisp" => Some(Self::Aisp),
            "pisp" => Some(Self::Pisp),
            "cbpii" => Some(Self::Cbpii),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aisp => "aisp",
            Self::Pisp => "pisp",
            Self::Cbpii => "cbpii",
        }
    }
}

/// What a grant covers: one role, plus funds confirmations when the PSU granted `cbpii`
/// beside it (`scope=aisp cbpii` on the authorization request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    /// The role.
    pub main: Scope,
    /// Whether `cbpii` was granted too.
    pub cbpii: bool,
}

impl Scopes {
    /// One scope alone.
    pub fn only(scope: Scope) -> Self {
        Self {
            main: scope,
            cbpii: scope == Scope::Cbpii,
        }
    }

    /// Parses a space-separated scope list: one role, optionally with `cbpii`; `None` for an
    /// unknown scope or two roles.
    pub fn parse(text: &str) -> Option<Self> {
        let scopes: Vec<Scope> = text
            .split_whitespace()
            .map(Scope::parse)
            .collect::<Option<_>>()?;
        let roles: Vec<Scope> = scopes
            .iter()
            .copied()
            .filter(|s| *s != Scope::Cbpii)
            .collect();
        let cbpii = scopes.contains(&Scope::Cbpii);
        match roles.as_slice() {
            [] if cbpii => Some(Self::only(Scope::Cbpii)),
            [main] => Some(Self { main: *main, cbpii }),
            _ => None,
        }
    }

    /// Whether the grant covers `scope`.
    pub fn contains(self, scope: Scope) -> bool {
        self.main == scope || (scope == Scope::Cbpii && self.cbpii)
    }

    /// The space-separated wire form.
    pub fn wire(self) -> String {
        if self.cbpii && self.main != Scope::Cbpii {
            format!("{} cbpii", self.main.as_str())
        } else {
            self.main.as_str().to_owned()
        }
    }
}

/// What a login page session is for.
#[derive(Debug, Clone)]
pub enum Purpose {
    /// An OAuth authorization request.
    Authorize {
        /// The TPP.
        client_id: String,
        /// Where to send the code.
        redirect_uri: String,
        /// The requested scopes.
        scope: Scopes,
        /// The TPP's `state`, echoed.
        state: Option<String>,
        /// PKCE S256 challenge, when sent.
        code_challenge: Option<String>,
    },
    /// The PSU approving a payment request.
    ApprovePayment {
        /// The payment's resource id.
        payment_id: String,
    },
}

/// A login in progress.
#[derive(Debug, Clone)]
pub struct LoginSession {
    /// The bank whose page it is.
    pub bank: String,
    /// What it is for.
    pub purpose: Purpose,
    /// The PSU, once the online id is accepted.
    pub psu: Option<String>,
    /// When it started.
    pub created_at: DateTime<Utc>,
}

/// An authorization code, single use.
#[derive(Debug, Clone)]
pub struct AuthCode {
    bank: String,
    client_id: String,
    redirect_uri: String,
    scope: Scopes,
    psu: String,
    sca_at: DateTime<Utc>,
    code_challenge: Option<String>,
}

/// A token pair and what it grants.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The issuing bank.
    pub bank: String,
    /// The TPP.
    pub client_id: String,
    /// The PSU (`None` for client credentials).
    pub psu: Option<String>,
    /// The scopes.
    pub scope: Scopes,
    /// The PSU's last strong authentication.
    pub last_sca_at: Option<DateTime<Utc>>,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// The refresh token, if any.
    pub refresh_token: Option<String>,
    /// Revoked tokens stay known so that they answer `invalid_token`.
    pub revoked: bool,
}

/// `GET …/oauth/authorize`: checks the request and shows the login page.
pub async fn authorize_page(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    let Ok(bank) = bank_of(&req) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown bank");
    };
    let q = query.into_inner();
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("client_id") != Some(state.client_id.as_str()) {
        return pages::error(StatusCode::BAD_REQUEST, "Unknown client_id");
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|u| {
        Url::parse(u)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none())
    }) else {
        return pages::error(StatusCode::BAD_REQUEST, "Missing or invalid redirect_uri");
    };
    let tpp_state = get("state").map(str::to_owned);
    let fail = |code: &str| redirect_with(redirect_uri, &[("error", code)], tpp_state.as_deref());
    if get("response_type") != Some("code") {
        return fail("unsupported_response_type");
    }
    let Some(scope) = get("scope").and_then(Scopes::parse) else {
        return fail("invalid_scope");
    };
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => None,
        (Some(challenge), Some("S256")) => Some(challenge.to_owned()),
        _ => return fail("invalid_request"),
    };
    let session = random_token(24);
    let now = state.now();
    let mut inner = state.lock();
    inner
        .sessions
        .retain(|_, s| now - s.created_at < SESSION_TTL);
    inner.sessions.insert(
        session.clone(),
        LoginSession {
            bank: bank.clone(),
            purpose: Purpose::Authorize {
                client_id: state.client_id.clone(),
                redirect_uri: redirect_uri.to_owned(),
                scope,
                state: tpp_state.clone(),
                code_challenge,
            },
            psu: None,
            created_at: now,
        },
    );
    let what = format!(
        "Un service tiers demande l'accès « {} » à vos comptes.",
        scope.wire()
    );
    pages::login(&bank, &session, &what, None)
}

/// `POST …/oauth/authorize`: the login and OTP forms (for authorizations and payment approvals).
pub async fn authorize_submit(
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
    state: web::Data<SandboxState>,
) -> HttpResponse {
    let Ok(bank) = bank_of(&req) else {
        return pages::error(StatusCode::NOT_FOUND, "Unknown bank");
    };
    let form = form.into_inner();
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let session_id = get("session");
    let now = state.now();
    let mut inner = state.lock();
    let Some(session) = inner
        .sessions
        .get(session_id)
        .filter(|s| s.bank == bank && now - s.created_at < SESSION_TTL)
        .cloned()
    else {
        return pages::error(StatusCode::BAD_REQUEST, "This login session has expired");
    };
    match get("action") {
        "cancel" => {
            inner.sessions.remove(session_id);
            cancel(&mut inner, &session)
        }
        "login" => match personas::find(&bank, get("psu_id")) {
            Some(persona) => {
                if let Some(s) = inner.sessions.get_mut(session_id) {
                    s.psu = Some(persona.id.to_owned());
                }
                pages::otp(&bank, session_id, persona.id, None)
            }
            None => pages::login(
                &bank,
                session_id,
                "Identifiez-vous pour continuer.",
                Some("Identifiant inconnu. Vérifiez-le et réessayez."),
            ),
        },
        "otp" => {
            let Some(psu) = session.psu.clone() else {
                return pages::login(&bank, session_id, "Identifiez-vous pour continuer.", None);
            };
            if get("otp").trim() != SANDBOX_OTP {
                return pages::otp(&bank, session_id, &psu, Some("Code incorrect. Réessayez."));
            }
            inner.sessions.remove(session_id);
            complete(&mut inner, &session, psu, now)
        }
        _ => pages::error(StatusCode::BAD_REQUEST, "Unknown action"),
    }
}

fn cancel(inner: &mut Inner, session: &LoginSession) -> HttpResponse {
    match &session.purpose {
        Purpose::Authorize {
            redirect_uri,
            state,
            ..
        } => redirect_with(
            redirect_uri,
            &[("error", "access_denied")],
            state.as_deref(),
        ),
        Purpose::ApprovePayment { payment_id } => super::payments::on_cancelled(inner, payment_id),
    }
}

fn complete(
    inner: &mut Inner,
    session: &LoginSession,
    psu: String,
    now: DateTime<Utc>,
) -> HttpResponse {
    match &session.purpose {
        Purpose::Authorize {
            client_id,
            redirect_uri,
            scope,
            state,
            code_challenge,
        } => {
            let code = random_token(24);
            inner.codes.retain(|_, c| now - c.sca_at < CODE_TTL);
            inner.codes.insert(
                code.clone(),
                AuthCode {
                    bank: session.bank.clone(),
                    client_id: client_id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    scope: *scope,
                    psu,
                    sca_at: now,
                    code_challenge: code_challenge.clone(),
                },
            );
            redirect_with(redirect_uri, &[("code", &code)], state.as_deref())
        }
        Purpose::ApprovePayment { payment_id } => {
            super::payments::on_approved(inner, payment_id, &session.bank, &psu, now)
        }
    }
}

/// Issues a single-use authorization code for `psu` at `bank`, to be exchanged with
/// `redirect_uri` by `client_id`: the user's own grant, as the OAuth page issues it, and as a
/// payment approval does for the TPP's `o-confirmation`.
pub fn issue_code(
    inner: &mut Inner,
    bank: &str,
    client_id: &str,
    redirect_uri: &str,
    scope: Scopes,
    psu: &str,
    now: DateTime<Utc>,
) -> String {
    let code = random_token(24);
    inner.codes.retain(|_, c| now - c.sca_at < CODE_TTL);
    inner.codes.insert(
        code.clone(),
        AuthCode {
            bank: bank.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            psu: psu.to_owned(),
            sca_at: now,
            code_challenge: None,
        },
    );
    code
}

/// A 302 to `base` with `pairs` and `state` appended to its query.
pub fn redirect_with(base: &str, pairs: &[(&str, &str)], state: Option<&str>) -> HttpResponse {
    let Ok(mut url) = Url::parse(base) else {
        return pages::error(StatusCode::BAD_REQUEST, "Invalid redirect URL");
    };
    if !pairs.is_empty() || state.is_some() {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    HttpResponse::Found()
        .insert_header((LOCATION, url.as_str()))
        .finish()
}

/// `POST …/oauth/token`.
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, OAuthError> {
    let bank = bank_of(&req).map_err(|e| OAuthError::bad("invalid_request", e.to_string()))?;
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::bad("invalid_request", "the body must be form-encoded"))?;
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    check_client(&req, get("client_id"), &state)?;
    let now = state.now();
    let mut inner = state.lock();
    match get("grant_type") {
        Some("authorization_code") => {
            if form.contains_key("scope") {
                return Err(OAuthError::bad(
                    "invalid_request",
                    "scope must not be sent with grant_type=authorization_code",
                ));
            }
            let invalid = |why: &str| OAuthError::bad("invalid_grant", why);
            let code = inner
                .codes
                .remove(get("code").unwrap_or_default())
                .ok_or_else(|| invalid("unknown or already used code"))?;
            if now - code.sca_at >= CODE_TTL {
                return Err(invalid("the code has expired"));
            }
            if code.bank != bank || code.client_id != state.client_id {
                return Err(invalid("the code was issued to another client or bank"));
            }
            if get("redirect_uri") != Some(code.redirect_uri.as_str()) {
                return Err(invalid(
                    "redirect_uri differs from the authorization request",
                ));
            }
            if let Some(challenge) = &code.code_challenge {
                let verifier =
                    get("code_verifier").ok_or_else(|| invalid("code_verifier missing"))?;
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(openssl::sha::sha256(verifier.as_bytes()));
                if &computed != challenge {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            let grant = Grant {
                bank,
                client_id: code.client_id,
                psu: Some(code.psu),
                scope: code.scope,
                last_sca_at: Some(code.sca_at),
                access_expires_at: now,
                refresh_token: None,
                revoked: false,
            };
            Ok(issue(&mut inner, grant, &state, now, true))
        }
        Some("refresh_token") => {
            let invalid = |why: &str| OAuthError::bad("invalid_grant", why);
            let refresh = get("refresh_token").unwrap_or_default();
            let access = inner
                .refresh_index
                .remove(refresh)
                .ok_or_else(|| invalid("unknown, rotated or revoked refresh token"))?;
            let old = inner
                .grants
                .get_mut(&access)
                .ok_or_else(|| invalid("unknown refresh token"))?;
            // The rotated pair replaces the old one entirely.
            old.revoked = true;
            let old = old.clone();
            if old.bank != bank {
                return Err(invalid("the refresh token was issued by another bank"));
            }
            if !old.last_sca_at.is_some_and(|at| now - at < SCA_VALIDITY) {
                return Err(invalid(
                    "the last strong authentication is older than 180 days",
                ));
            }
            Ok(issue(
                &mut inner,
                Grant {
                    revoked: false,
                    ..old
                },
                &state,
                now,
                true,
            ))
        }
        Some("client_credentials") => {
            let scope = get("scope").unwrap_or("pisp");
            if Scope::parse(scope) != Some(Scope::Pisp) {
                return Err(OAuthError::bad(
                    "invalid_scope",
                    "client_credentials is for the pisp scope",
                ));
            }
            let grant = Grant {
                bank,
                client_id: state.client_id.clone(),
                psu: None,
                scope: Scopes::only(Scope::Pisp),
                last_sca_at: None,
                access_expires_at: now,
                refresh_token: None,
                revoked: false,
            };
            Ok(issue(&mut inner, grant, &state, now, false))
        }
        _ => Err(OAuthError::bad(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    }
}

fn check_client(
    req: &HttpRequest,
    client_id: Option<&str>,
    state: &SandboxState,
) -> Result<(), OAuthError> {
    if client_id != Some(state.client_id.as_str()) {
        return Err(OAuthError::invalid_client("unknown client_id"));
    }
    // tls_client_auth: the QWAC must be the client's own.
    if peer_organization(req).as_deref() != client_id {
        return Err(OAuthError::invalid_client(
            "client_id does not match the client certificate's organizationIdentifier",
        ));
    }
    Ok(())
}

fn issue(
    inner: &mut Inner,
    mut grant: Grant,
    state: &SandboxState,
    now: DateTime<Utc>,
    with_refresh: bool,
) -> HttpResponse {
    let access = random_token(32);
    let ttl = Duration::from_std(state.access_token_ttl).unwrap_or(Duration::hours(1));
    grant.access_expires_at = now + ttl;
    let refresh = with_refresh.then(|| random_token(32));
    grant.refresh_token = refresh.clone();
    let scope = match (grant.scope, with_refresh) {
        (scope, true) => format!("{} offline_access", scope.wire()),
        (scope, false) => scope.wire(),
    };
    if let Some(refresh) = &refresh {
        inner.refresh_index.insert(refresh.clone(), access.clone());
    }
    inner.grants.insert(access.clone(), grant);
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": state.access_token_ttl.as_secs(),
        "scope": scope,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// `POST …/oauth/revoke` (RFC 7009): revoking either token of a pair revokes both. Unknown
/// tokens are not an error.
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<SandboxState>,
) -> Result<HttpResponse, OAuthError> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::bad("invalid_request", "the body must be form-encoded"))?;
    check_client(&req, form.get("client_id").map(String::as_str), &state)?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::bad("invalid_request", "token is required"))?;
    let mut inner = state.lock();
    let access = match inner.refresh_index.get(token) {
        Some(access) => access.clone(),
        None => token.clone(),
    };
    if let Some(grant) = inner.grants.get_mut(&access) {
        grant.revoked = true;
        if let Some(refresh) = grant.refresh_token.clone() {
            inner.refresh_index.remove(&refresh);
        }
    }
    Ok(HttpResponse::Ok().finish())
}
