//! Helpers for tests against the sandbox's Treezor simulator: the hosted login through a
//! browser, and a client with the TPP's QWAC for the API listener (`/treezor/…`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
use passerelle::config::DEV_CLIENT_ID;
use passerelle::sandbox::treezor::TreezorHandle;
use serde_json::{json, Value};

use super::http_browser::{between, HttpBrowser};
use super::TestApp;

/// The redirect URI Treezor tests register on the authorize request.
pub const TREEZOR_REDIRECT: &str = "https://tpp.example/treezor/callback";
/// Every persona's password and PIN.
pub const PASSWORD: &str = "treezor";
pub const PIN: &str = "123456";

/// Logs in at the Treezor hosted login page (`authorize_url`, on the pages listener) as
/// `username` with the password and PIN; returns where the simulator sends the browser (the
/// redirect URI with `code` and `state`).
pub async fn treezor_login(browser: &HttpBrowser, authorize_url: &str, username: &str) -> String {
    let login = browser.get(authorize_url).await;
    assert_eq!(login.status, 200, "{}", login.body);
    let session = between(&login.body, "name=\"session\" value=\"", "\"").to_owned();
    let action = authorize_url.split('?').next().unwrap().to_owned();
    let form = [
        ("session", session.as_str()),
        ("action", "login"),
        ("username", username),
        ("password", PASSWORD),
        ("pin", PIN),
    ];
    let done = browser.post(&action, &form).await;
    assert_eq!(done.status, 302, "{}", done.body);
    done.location.unwrap()
}

/// Connects `user` to the Treezor simulator through the whole journey as `username`, sharing
/// every wallet; returns the connection id.
pub async fn connect_treezor(
    app: &TestApp,
    browser: &HttpBrowser,
    user: &str,
    username: &str,
) -> String {
    use super::http_browser::{consent_all, new_connection, to_bank};
    let (id, connect_url) = new_connection(app, user, "sandbox-treezor").await;
    let authorize = to_bank(browser, &connect_url).await;
    let sandbox = app.sandbox.as_ref().unwrap();
    assert!(
        authorize.starts_with(&format!("{}/treezor/oauth/authorize?", sandbox.web_url())),
        "{authorize}"
    );
    assert!(
        authorize.contains("scope=read_only+read_write"),
        "{authorize}"
    );
    let callback = treezor_login(browser, &authorize, username).await;
    assert!(callback.starts_with(&app.url("/callback")), "{callback}");
    let consent = browser.get(&callback).await;
    let back = consent_all(app, browser, &consent).await;
    assert!(back.ends_with("status=active"), "{back}");
    id
}

/// A response, fully read.
#[derive(Debug)]
pub struct TzResp {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: awc::http::header::HeaderMap,
}

impl TzResp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `code` of the first entry of the `{"errors":[…]}` envelope.
    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no errors envelope: {}", self.text()))
            .to_owned()
    }
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub struct TzTokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// A TPP client of the Treezor simulator: the app's QWAC on the API listener, a plain TLS
/// client (a browser) on the pages listener.
pub struct Treezor {
    pub api: String,
    pub web: String,
    pub client: awc::Client,
    pub browser: HttpBrowser,
    pub handle: TreezorHandle,
}

impl Treezor {
    /// The simulator of `app`'s sandbox.
    pub fn of(app: &TestApp) -> Self {
        let sandbox = app.sandbox.as_ref().expect("the app runs with its sandbox");
        let certs = app.data_dir.path().join("certs");
        let mut tls = SslConnector::builder(SslMethod::tls()).unwrap();
        tls.set_ca_file(certs.join("ca.pem")).unwrap();
        tls.set_certificate_chain_file(certs.join("qwac.pem"))
            .unwrap();
        tls.set_private_key_file(certs.join("qwac.key"), SslFiletype::PEM)
            .unwrap();
        let client = awc::Client::builder()
            .connector(awc::Connector::new().openssl(tls.build()))
            .disable_redirects()
            .timeout(Duration::from_secs(30))
            .finish();
        Self {
            api: format!("{}/treezor", sandbox.base_url()),
            web: format!("{}/treezor", sandbox.web_url()),
            client,
            browser: HttpBrowser::new(app),
            handle: sandbox.treezor(),
        }
    }

    /// The authorize URL on the pages listener.
    pub fn authorize_url(&self, scope: Option<&str>, state: &str) -> String {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", self.web)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", DEV_CLIENT_ID)
            .append_pair("redirect_uri", TREEZOR_REDIRECT)
            .append_pair("state", state);
        if let Some(scope) = scope {
            url.query_pairs_mut().append_pair("scope", scope);
        }
        url.to_string()
    }

    /// The code from a login as `username`.
    pub async fn code(&self, username: &str, scope: Option<&str>) -> String {
        let location =
            treezor_login(&self.browser, &self.authorize_url(scope, "st-7"), username).await;
        let url = url::Url::parse(&location).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(
            pairs.contains(&("state".into(), "st-7".into())),
            "{location}"
        );
        pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
    }

    /// POSTs the token form.
    pub async fn token_form(&self, fields: &[(&str, &str)]) -> TzResp {
        let response = self
            .client
            .post(format!("{}/oauth/token", self.api))
            .send_form(&fields)
            .await
            .unwrap();
        read(response).await
    }

    /// Tokens for `username` through the whole dance (a session opened with SCA).
    pub async fn login(&self, username: &str) -> TzTokens {
        self.login_with(username, None).await
    }

    pub async fn login_with(&self, username: &str, scope: Option<&str>) -> TzTokens {
        let code = self.code(username, scope).await;
        let response = self
            .token_form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", DEV_CLIENT_ID),
                ("redirect_uri", TREEZOR_REDIRECT),
            ])
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        tokens(&response)
    }

    /// A refresh.
    pub async fn refresh(&self, refresh_token: &str) -> TzResp {
        self.token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", DEV_CLIENT_ID),
        ])
        .await
    }

    /// The full URL of an API path (`/v1/…`), as a proof signs it.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// A GET with `token` and, when given, an `X-Trz-SCA` proof.
    pub async fn get(&self, path: &str, token: &str, proof: Option<&str>) -> TzResp {
        let mut request = self
            .client
            .get(self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")));
        if let Some(proof) = proof {
            request = request.insert_header(("X-Trz-SCA", proof));
        }
        read(request.send().await.unwrap()).await
    }

    /// A JSON call with `token` and, when given, an `X-Trz-SCA` proof.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &Value,
        proof: Option<&str>,
    ) -> TzResp {
        let mut request = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")));
        if let Some(proof) = proof {
            request = request.insert_header(("X-Trz-SCA", proof));
        }
        read(request.send_json(body).await.unwrap()).await
    }

    /// A proof from the device stand-in (`POST /treezor/device/{userId}/sign`).
    pub async fn device_proof(&self, user_id: u64, path: &str, body: &Value) -> String {
        let mut response = self
            .client
            .post(format!("{}/device/{user_id}/sign", self.web))
            .send_json(&json!({"url": self.url(path), "body": body}))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: Value = response.json().await.unwrap();
        answer["scaProof"].as_str().unwrap().to_owned()
    }
}

async fn read(
    mut response: awc::ClientResponse<
        impl futures_util::Stream<Item = Result<bytes::Bytes, awc::error::PayloadError>> + Unpin,
    >,
) -> TzResp {
    let body = response.body().limit(8 << 20).await.unwrap();
    TzResp {
        status: response.status().as_u16(),
        body: body.to_vec(),
        headers: response.headers().clone(),
    }
}

/// The tokens of a 200 token answer.
pub fn tokens(response: &TzResp) -> TzTokens {
    let json = response.json();
    TzTokens {
        access: json["access_token"].as_str().unwrap().to_owned(),
        refresh: json["refresh_token"].as_str().map(str::to_owned),
    }
}
