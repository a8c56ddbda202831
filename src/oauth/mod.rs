//! OAuth 2.0 with a bank, over the `oauth2` crate and the bank's mutual-TLS client:
//! authorization URL (with PKCE where the bank accepts it), code exchange, refresh with
//! rotation, revocation and client credentials (PISP).
//!
//! Deviations the STET portals demand, and how they are met:
//! - `client_id` is the PSD2 organisation identifier and there is no client secret
//!   (`tls_client_auth`): the crate then sends `client_id` in the form body.
//! - The code exchange carries no `scope`: the crate's code exchange never sends one, which is
//!   what BPCE requires, so nothing is added there.
//! - Tokens are [`SecretString`]s: they are never logged, and `Debug` prints them redacted.

mod http;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicErrorResponse, BasicRevocationErrorResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken,
    TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::clock::Clock;
use crate::registry::OAuthEndpoints;
use crate::tls::client::{BankHttpClient, TransportError};

/// Why an OAuth call failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The bank could not be reached or did not answer in time.
    #[error("token endpoint unreachable: {0}")]
    Transport(#[from] TransportError),
    /// The bank refused (`invalid_grant`: expired or reused code/refresh token, …).
    #[error("the bank refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth error code.
        error: String,
        /// The bank's explanation.
        description: Option<String>,
    },
    /// The answer is not a valid token response (the body is not kept: it may hold tokens).
    #[error("unusable answer from the token endpoint: {0}")]
    BadResponse(String),
    /// The bank profile lacks an endpoint for this operation, or a URL is invalid.
    #[error("OAuth configuration: {0}")]
    Config(String),
    /// Passerelle's own token store failed around the exchange (loading, persisting, the
    /// refresh lease); the bank was not at fault.
    #[error("token store ({what}): {source}")]
    Store {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The token cannot be refreshed at all (a fixed token, a lease held too long).
    #[error("cannot refresh: {0}")]
    NotRefreshable(&'static str),
}

impl<RE: std::error::Error + 'static> From<RequestTokenError<RE, BasicErrorResponse>> for OAuthError
where
    OAuthError: From<RE>,
{
    fn from(e: RequestTokenError<RE, BasicErrorResponse>) -> Self {
        match e {
            RequestTokenError::ServerResponse(r) => Self::Rejected {
                error: r.error().as_ref().to_owned(),
                description: r.error_description().cloned(),
            },
            RequestTokenError::Request(inner) => inner.into(),
            RequestTokenError::Parse(e, _body) => Self::BadResponse(e.to_string()),
            RequestTokenError::Other(s) => Self::BadResponse(s),
        }
    }
}

/// Tokens received from the bank.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// Bearer access token.
    pub access_token: SecretString,
    /// Refresh token, when one was issued (authorization code and refresh grants).
    pub refresh_token: Option<SecretString>,
    /// When the access token expires, from `expires_in` (the bank may expire it earlier:
    /// a 401 `invalid_token` is the real signal).
    pub expires_at: Option<DateTime<Utc>>,
    /// Granted scopes, e.g. `["aisp", "offline_access"]`.
    pub scopes: Vec<String>,
}

/// The result of a refresh.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The new tokens. `refresh_token` is always set: the new one when the bank rotated it,
    /// otherwise the one that was used (still valid).
    pub tokens: TokenSet,
    /// Whether the bank issued a new refresh token. When it did, the old one is dead or about
    /// to be: the caller must persist the new one (sealed) **before** forgetting the old one and
    /// before any other use, or the consent is lost on a crash.
    pub rotated: bool,
}

/// What the PSU's browser is sent to, and what to keep until the callback.
#[derive(Debug)]
pub struct AuthorizationRedirect {
    /// The bank's authorization URL with all parameters.
    pub url: Url,
    /// The `state` sent (compare it on the callback).
    pub state: String,
    /// The PKCE verifier to present at the code exchange, when PKCE is used.
    pub pkce_verifier: Option<SecretString>,
}

/// OAuth client for one bank and environment.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: BankHttpClient,
    client_id: String,
    authorize: Url,
    token: Url,
    revoke: Option<Url>,
    pkce: bool,
    clock: Clock,
}

impl OAuthClient {
    /// The client for one environment's authorization server (`endpoints`); `pkce` when the
    /// bank accepts PKCE; `client_id` is the TPP's organisation identifier; `http` is the
    /// bank's mTLS client.
    pub fn new(
        endpoints: &OAuthEndpoints,
        pkce: bool,
        client_id: impl Into<String>,
        http: BankHttpClient,
    ) -> Self {
        Self {
            http,
            client_id: client_id.into(),
            authorize: endpoints.authorize.clone(),
            token: endpoints.token.clone(),
            revoke: endpoints.revoke.clone(),
            pkce,
            clock: Clock::system(),
        }
    }

    /// The same client reading `clock` (token expiry instants are computed on it).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn client(
        &self,
    ) -> BasicClient<
        oauth2::EndpointSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointNotSet,
        oauth2::EndpointSet,
    > {
        BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(self.authorize.clone()))
            .set_token_uri(TokenUrl::from_url(self.token.clone()))
    }

    /// The authorization URL: `response_type=code`, `client_id`, the exact `redirect_uri`,
    /// `scope`, `state`, and a PKCE S256 challenge when the bank accepts PKCE.
    pub fn authorize_url(
        &self,
        redirect_uri: &Url,
        scopes: &[&str],
        state: &str,
    ) -> AuthorizationRedirect {
        let client = self
            .client()
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        let state_owned = state.to_owned();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state_owned))
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())));
        let mut pkce_verifier = None;
        if self.pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(SecretString::from(verifier.into_secret()));
        }
        let (url, csrf) = request.url();
        AuthorizationRedirect {
            url,
            state: csrf.into_secret(),
            pkce_verifier,
        }
    }

    /// Exchanges an authorization code (no `scope` is sent); `redirect_uri` must be the one of
    /// the authorization request, byte for byte.
    pub async fn exchange_code(
        &self,
        code: &SecretString,
        redirect_uri: &Url,
        pkce_verifier: Option<&SecretString>,
    ) -> Result<TokenSet, OAuthError> {
        let send = |r| http::send(&self.http, r);
        self.exchange_code_via(code, redirect_uri, pkce_verifier, send)
            .await
    }

    /// [`Self::exchange_code`] through any sender (tests observe the form body with it).
    async fn exchange_code_via<C, F>(
        &self,
        code: &SecretString,
        redirect_uri: &Url,
        pkce_verifier: Option<&SecretString>,
        send: C,
    ) -> Result<TokenSet, OAuthError>
    where
        C: Fn(oauth2::HttpRequest) -> F,
        F: std::future::Future<Output = Result<oauth2::HttpResponse, TransportError>>,
    {
        let client = self
            .client()
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        let mut request =
            client.exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()));
        if let Some(v) = pkce_verifier {
            request =
                request.set_pkce_verifier(PkceCodeVerifier::new(v.expose_secret().to_owned()));
        }
        let response = request.request_async(&send).await?;
        Ok(token_set(&response, self.clock.now()))
    }

    /// Refreshes with `refresh_token` (`grant_type=refresh_token`). See [`Refreshed`] for the
    /// rotation rule the caller must follow.
    pub async fn refresh(&self, refresh_token: &SecretString) -> Result<Refreshed, OAuthError> {
        let client = self.client();
        let old = RefreshToken::new(refresh_token.expose_secret().to_owned());
        let send = |r| http::send(&self.http, r);
        let response = client
            .exchange_refresh_token(&old)
            .request_async(&send)
            .await?;
        let mut tokens = token_set(&response, self.clock.now());
        let rotated = tokens
            .refresh_token
            .as_ref()
            .is_some_and(|new| new.expose_secret() != refresh_token.expose_secret());
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.clone());
        }
        Ok(Refreshed { tokens, rotated })
    }

    /// A client-credentials token (PISP: `scope=pisp`), authenticated by the QWAC alone.
    pub async fn client_credentials(&self, scopes: &[&str]) -> Result<TokenSet, OAuthError> {
        let client = self.client();
        let send = |r| http::send(&self.http, r);
        let response = client
            .exchange_client_credentials()
            .add_scopes(scopes.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&send)
            .await?;
        Ok(token_set(&response, self.clock.now()))
    }

    /// Revokes a refresh token (at BPCE this revokes the access token too).
    pub async fn revoke_refresh_token(
        &self,
        refresh_token: &SecretString,
    ) -> Result<(), OAuthError> {
        let revoke = self
            .revoke
            .clone()
            .ok_or_else(|| OAuthError::Config("the bank has no revocation endpoint".into()))?;
        let client = self
            .client()
            .set_revocation_url(RevocationUrl::from_url(revoke));
        let token = StandardRevocableToken::RefreshToken(RefreshToken::new(
            refresh_token.expose_secret().to_owned(),
        ));
        let send = |r| http::send(&self.http, r);
        client
            .revoke_token(token)
            .map_err(|e| OAuthError::Config(e.to_string()))?
            .request_async(&send)
            .await
            .map_err(revocation_error)
    }
}

fn revocation_error(
    e: RequestTokenError<TransportError, BasicRevocationErrorResponse>,
) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => OAuthError::Rejected {
            error: r.error().to_string(),
            description: r.error_description().cloned(),
        },
        RequestTokenError::Request(inner) => inner.into(),
        RequestTokenError::Parse(e, _) => OAuthError::BadResponse(e.to_string()),
        RequestTokenError::Other(s) => OAuthError::BadResponse(s),
    }
}

fn token_set(response: &oauth2::basic::BasicTokenResponse, now: DateTime<Utc>) -> TokenSet {
    TokenSet {
        access_token: SecretString::from(response.access_token().secret().to_owned()),
        refresh_token: response
            .refresh_token()
            .map(|r| SecretString::from(r.secret().to_owned())),
        expires_at: response
            .expires_in()
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| now + d),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::registry::{Environment, Registry};
    use crate::tls::certs::{generate_dev_certs, DevCertOptions};
    use crate::tls::client::{ClientOptions, TlsMaterial};
    use crate::tls::identity::Identity;

    /// The code exchange's form body, as the crate builds it: no `scope` (BPCE refuses one on
    /// `authorization_code`), the exact `redirect_uri`, the PKCE verifier and our `client_id`.
    #[actix_web::test]
    async fn the_code_exchange_sends_no_scope() {
        let dir = tempfile::tempdir().unwrap();
        let certs = generate_dev_certs(dir.path(), &DevCertOptions::default()).unwrap();
        let qwac = Identity::from_pem_files(&certs.qwac_cert, &certs.qwac_key).unwrap();
        let material = TlsMaterial::load(qwac, &[&certs.ca_cert]).unwrap();
        let http = BankHttpClient::new(&material, ClientOptions::default()).unwrap();
        let registry = Registry::load(&[], None).unwrap();
        let bank = registry.get("banque-bcp").unwrap();
        let urls = bank.endpoints(Environment::Live).oauth.as_ref().unwrap();
        let oauth = OAuthClient::new(urls, false, "PSDFR-ACPR-99999", http);

        let sent: RefCell<Vec<oauth2::HttpRequest>> = RefCell::new(Vec::new());
        let capture = |request: oauth2::HttpRequest| {
            sent.borrow_mut().push(request);
            async {
                Ok::<_, TransportError>(
                    oauth2::http::Response::builder()
                        .status(200)
                        .header("content-type", "application/json")
                        .body(br#"{"access_token":"a","token_type":"Bearer"}"#.to_vec())
                        .unwrap(),
                )
            }
        };
        let redirect = Url::parse("https://tpp.example/callback?from=bank").unwrap();
        let tokens = oauth
            .exchange_code_via(
                &SecretString::from("the-code"),
                &redirect,
                Some(&SecretString::from("the-verifier")),
                capture,
            )
            .await
            .unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "a");

        let sent = sent.into_inner();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].uri().to_string(), urls.token.as_str());
        let form: HashMap<String, String> = url::form_urlencoded::parse(sent[0].body())
            .into_owned()
            .collect();
        assert!(!form.contains_key("scope"), "{form:?}");
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "the-code");
        assert_eq!(form["redirect_uri"], redirect.as_str());
        assert_eq!(form["code_verifier"], "the-verifier");
        assert_eq!(form["client_id"], "PSDFR-ACPR-99999");
    }
}
