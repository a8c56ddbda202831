//! OAuth as Treezor Connect runs it (001:503-663, 12538-12626): the hosted login page (pages
//! listener; username, password and the PIN, which makes the login an SCA), the token endpoint
//! (API listener, mTLS: `authorization_code`, rotating `refresh_token` for 30 days after the
//! code, `client_credentials`), RS256 JWT access tokens and their JWKS.

use std::collections::HashMap;

use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use url::Url;

use super::error::TreezorError;
use super::personas::{self, PASSWORD, PIN};
use super::state::{Inner, TreezorState};
use crate::sandbox::error::OAuthError;
use crate::sandbox::pages::escape;
use crate::sandbox::state::random_token;
use crate::sandbox::transport::peer_organization;

/// An authorization code lives this long (single use).
pub const CODE_TTL: Duration = Duration::minutes(10);
/// An access token lives this long (`expires_in`).
pub const ACCESS_TTL: Duration = Duration::hours(1);
/// Refresh works until this long after the `authorization_code` grant that began the chain
/// (001:583-594: "up to 1 month").
pub const REFRESH_WINDOW: Duration = Duration::days(30);
/// A hosted login page stays usable this long.
const LOGIN_TTL: Duration = Duration::minutes(30);
/// The scopes an end user or program can be granted here.
const SCOPES: [&str; 2] = ["read_only", "read_write"];

/// A hosted login page in progress.
#[derive(Debug, Clone)]
pub struct LoginPage {
    redirect_uri: String,
    scopes: Vec<String>,
    state: Option<String>,
    created: DateTime<Utc>,
}

/// An authorization code.
#[derive(Debug, Clone)]
pub struct Code {
    user_id: u64,
    redirect_uri: String,
    scopes: Vec<String>,
    created: DateTime<Utc>,
}

/// What an access token opens.
#[derive(Debug, Clone)]
pub struct Session {
    /// The end user (`None` for a `client_credentials` program token).
    pub user_id: Option<u64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// When the token expires (the session is "active" until then).
    pub expires_at: DateTime<Utc>,
    /// Whether the session was opened with an SCA (the login with PIN), not by a refresh.
    pub with_sca: bool,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    user_id: u64,
    scopes: Vec<String>,
    chain_started: DateTime<Utc>,
}

/// The scopes granted for a request's `scope` (space- or comma-separated): the intersection
/// with what the simulator grants, or everything when none is asked (001:629-657).
fn granted(requested: Option<&str>) -> Vec<String> {
    match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(text) => {
            let asked: Vec<&str> = text.split([' ', ',', '+']).collect();
            SCOPES
                .iter()
                .filter(|s| asked.contains(s))
                .map(|s| (*s).to_owned())
                .collect()
        }
    }
}

fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(format!(
            "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             </head>\n<body>\n<h1>{t}</h1>\n{body}\n<p><small>Treezor sandbox: test data only.\
             </small></p>\n</body></html>\n",
            t = escape(title)
        ))
}

/// An HTML error page (a request that cannot be sent back to the client).
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    page(status, "Erreur", &format!("<p>{}</p>", escape(message)))
}

fn login_form(session: &str, error: Option<&str>) -> HttpResponse {
    let error = error
        .map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>\n", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{error}<form method=\"post\" action=\"/treezor/oauth/authorize\">\n\
         <input type=\"hidden\" name=\"session\" value=\"{session}\">\n\
         <label for=\"username\">Identifiant</label>\n\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required>\n\
         <label for=\"password\">Mot de passe</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" required>\n\
         <label for=\"pin\">Code PIN</label>\n\
         <input id=\"pin\" name=\"pin\" type=\"password\" inputmode=\"numeric\" required>\n\
         <button type=\"submit\" name=\"action\" value=\"login\">Se connecter</button>\n\
         <button type=\"submit\" name=\"action\" value=\"cancel\" formnovalidate>Annuler</button>\n\
         </form>",
        session = escape(session),
    );
    page(StatusCode::OK, "Treezor Connect: connexion", &body)
}

/// A 302 to `base` with `pairs` and the client's `state` added to its query.
fn redirect(base: &str, pairs: &[(&str, &str)], state: Option<&str>) -> HttpResponse {
    let Ok(mut url) = Url::parse(base) else {
        return error_page(StatusCode::BAD_REQUEST, "Invalid redirect_uri");
    };
    {
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

/// `GET /treezor/oauth/authorize` (pages listener): checks the request, shows the login form.
pub async fn authorize_page(
    query: web::Query<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> HttpResponse {
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    if get("client_id") != Some(state.client_id.as_str()) {
        return error_page(StatusCode::BAD_REQUEST, "Unknown client_id");
    }
    let Some(redirect_uri) = get("redirect_uri")
        // http too, as the STET sandbox: Passerelle runs on plain http in tests and demos.
        .filter(|u| {
            Url::parse(u)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none())
        })
    else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "redirect_uri must be an http(s) URL",
        );
    };
    let client_state = get("state").map(str::to_owned);
    if get("response_type") != Some("code") {
        let pairs = [("error", "unsupported_response_type")];
        return redirect(redirect_uri, &pairs, client_state.as_deref());
    }
    let scopes = granted(get("scope"));
    if scopes.is_empty() {
        return redirect(
            redirect_uri,
            &[("error", "invalid_scope")],
            client_state.as_deref(),
        );
    }
    let session = random_token(24);
    let now = state.now();
    let mut inner = state.lock();
    inner.logins.retain(|_, l| now - l.created < LOGIN_TTL);
    inner.logins.insert(
        session.clone(),
        LoginPage {
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state: client_state,
            created: now,
        },
    );
    login_form(&session, None)
}

/// `POST /treezor/oauth/authorize`: the login form. Wrong credentials show the form again
/// (200, with an error); success redirects with a code; cancel redirects with `access_denied`.
pub async fn authorize_submit(
    form: web::Form<HashMap<String, String>>,
    state: web::Data<TreezorState>,
) -> HttpResponse {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let session_id = get("session");
    let now = state.now();
    let mut inner = state.lock();
    let Some(login) = inner
        .logins
        .get(session_id)
        .filter(|l| now - l.created < LOGIN_TTL)
        .cloned()
    else {
        return error_page(StatusCode::BAD_REQUEST, "This login session has expired");
    };
    match get("action") {
        "cancel" => {
            inner.logins.remove(session_id);
            let pairs = [("error", "access_denied")];
            redirect(&login.redirect_uri, &pairs, login.state.as_deref())
        }
        "login" => {
            let persona = personas::find(get("username"))
                .filter(|_| get("password") == PASSWORD && get("pin").trim() == PIN);
            let Some(persona) = persona else {
                return login_form(
                    session_id,
                    Some("Identifiant, mot de passe ou PIN incorrect."),
                );
            };
            inner.logins.remove(session_id);
            let code = random_token(24);
            inner.codes.retain(|_, c| now - c.created < CODE_TTL);
            inner.codes.insert(
                code.clone(),
                Code {
                    user_id: persona.user_id,
                    redirect_uri: login.redirect_uri.clone(),
                    scopes: login.scopes.clone(),
                    created: now,
                },
            );
            // The PIN is the user's SCA: it starts the 180-day exemption.
            inner.record_sca(persona.user_id, now);
            redirect(
                &login.redirect_uri,
                &[("code", &code)],
                login.state.as_deref(),
            )
        }
        _ => error_page(StatusCode::BAD_REQUEST, "Unknown action"),
    }
}

/// `GET /treezor/.well-known/jwks.json`: the access tokens' public key.
pub async fn jwks(state: web::Data<TreezorState>) -> Result<HttpResponse, TreezorError> {
    let jwks = state
        .keys
        .jwks()
        .map_err(|e| TreezorError::Internal(format!("jwks: {e}")))?;
    Ok(HttpResponse::Ok().json(jwks))
}

/// `POST /treezor/oauth/token` (API listener, mTLS).
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<TreezorState>,
) -> Result<HttpResponse, OAuthError> {
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body)
        .map_err(|_| OAuthError::bad("invalid_request", "the body must be form-encoded"))?;
    let get = |k: &str| form.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let client_id = get("client_id");
    if client_id != Some(state.client_id.as_str()) {
        return Err(OAuthError::invalid_client("unknown client_id"));
    }
    if peer_organization(&req).as_deref() != client_id {
        return Err(OAuthError::invalid_client(
            "the client certificate is not the registered client's",
        ));
    }
    let now = state.now();
    let mut inner = state.lock();
    let invalid = |why: &str| OAuthError::bad("invalid_grant", why);
    let body = match get("grant_type") {
        Some("authorization_code") => {
            let code = inner
                .codes
                .remove(get("code").unwrap_or_default())
                .ok_or_else(|| invalid("unknown or already used code"))?;
            if now - code.created >= CODE_TTL {
                return Err(invalid("the code has expired"));
            }
            if get("redirect_uri").is_some_and(|u| u != code.redirect_uri) {
                return Err(invalid(
                    "redirect_uri differs from the authorization request",
                ));
            }
            let scopes = narrow(&code.scopes, get("scope"))?;
            let user = Some(code.user_id);
            issue(&mut inner, &state, user, scopes, true, Some(now), now)?
        }
        Some("refresh_token") => {
            let grant = inner
                .refresh
                .remove(get("refresh_token").unwrap_or_default())
                .ok_or_else(|| invalid("unknown, used or revoked refresh token"))?;
            if now - grant.chain_started > REFRESH_WINDOW {
                return Err(invalid(
                    "the refresh token expired: a month has passed since the login; log in again",
                ));
            }
            let scopes = narrow(&grant.scopes, get("scope"))?;
            let user = Some(grant.user_id);
            issue(
                &mut inner,
                &state,
                user,
                scopes,
                false,
                Some(grant.chain_started),
                now,
            )?
        }
        Some("client_credentials") => {
            let scopes = granted(get("scope"));
            if scopes.is_empty() {
                return Err(OAuthError::bad(
                    "invalid_scope",
                    "no grantable scope requested",
                ));
            }
            issue(&mut inner, &state, None, scopes, false, None, now)?
        }
        _ => {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                "grant_type must be authorization_code, refresh_token or client_credentials",
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body))
}

/// `scope` on a code or refresh request may only narrow what was granted.
fn narrow(granted_scopes: &[String], asked: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted_scopes.to_vec());
    };
    let scopes: Vec<String> = granted(Some(asked))
        .into_iter()
        .filter(|s| granted_scopes.contains(s))
        .collect();
    if scopes.is_empty() {
        return Err(OAuthError::bad("invalid_scope", "scope exceeds the grant"));
    }
    Ok(scopes)
}

/// The `sub` of a user: a stable UUID (Treezor's `trzConnectUserId`).
pub fn subject(user_id: u64) -> String {
    format!("7a5e0000-0000-4000-8000-{user_id:012}")
}

/// Issues an access token (and a refresh token for a user), recording its session.
fn issue(
    inner: &mut Inner,
    state: &TreezorState,
    user_id: Option<u64>,
    scopes: Vec<String>,
    with_sca: bool,
    chain_started: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Value, OAuthError> {
    let expires_at = now + ACCESS_TTL;
    let wallets: Vec<u64> = user_id
        .map(|u| inner.ledger.wallets_of(u).map(|w| w.id).collect())
        .unwrap_or_default();
    let claims = json!({
        "iss": "treezor_connect",
        "iat": now.timestamp(),
        "exp": expires_at.timestamp(),
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": user_id.map_or_else(|| state.client_id.clone(), subject),
        "scope": scopes,
        "userId": user_id,
        "clientId": state.client_id,
        "cards": [],
        "wallets": wallets,
        "children": [],
        "userType": if user_id.is_some() { "user" } else { "application" },
        "amr": if with_sca { vec!["HYBRID_PIN"] } else { Vec::new() },
    });
    let access = state.keys.sign_token(&claims).map_err(|e| OAuthError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "server_error",
        description: format!("cannot sign the token: {e}"),
    })?;
    inner
        .tokens
        .retain(|_, s| now - s.expires_at < Duration::days(1));
    inner.tokens.insert(
        access.clone(),
        Session {
            user_id,
            scopes: scopes.clone(),
            expires_at,
            with_sca,
        },
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL.num_seconds(),
        "access_token": access,
        "scope": scopes.join(" "),
    });
    if let (Some(user_id), Some(chain_started)) = (user_id, chain_started) {
        let refresh = random_token(32);
        inner.refresh.insert(
            refresh.clone(),
            RefreshGrant {
                user_id,
                scopes,
                chain_started,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    Ok(body)
}
