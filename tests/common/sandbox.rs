//! A sandbox bank per test, with fresh certificates, and a minimal STET test client: mutual TLS
//! with the QWAC, draft-cavage signatures with the QSEAL key, and the OAuth dance through the
//! sandbox's HTML forms. (The product's own STET client lives elsewhere.)
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use awc::http::Method;
use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslFiletype, SslMethod};
use passerelle::httpsig::{digest_header, Signer};
use passerelle::sandbox::{self, SandboxHandle, SandboxOptions};
use passerelle::tls::certs::{generate_dev_certs, DevCertOptions, DevCertPaths};
use serde_json::{json, Value};

/// The TPP's client id in the generated certificates.
pub const CLIENT_ID: &str = "PSDFR-ACPR-99999";
/// The TPP's redirect URI in tests.
pub const REDIRECT_URI: &str = "https://tpp.example/callback?from=sandbox";
/// The banks.
pub const BCP: &str = "12579";
pub const CE: &str = "17515";

/// LEA's accounts.
pub const LEA_IBAN_1: &str = "FR7612579000920400430518020";
pub const LEA_RID_1: &str = "125790009204004305180";
pub const LEA_IBAN_2: &str = "FR7612579000920400851811524";
pub const LEA_RID_2: &str = "125790009204008518115";
pub const CLAIRE_EMPTY_IBAN: &str = "FR7617515900000400358074026";
pub const CLAIRE_EMPTY_RID: &str = "175159000004003580740";
pub const CLAIRE_IBAN: &str = "FR7617515900000800358074006";
pub const CLAIRE_RID: &str = "175159000008003580740";
pub const GEORGES_IBAN: &str = "FR2112579000930012345678906";
pub const GEORGES_RID: &str = "125790009300123456789";

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

/// One API call, with knobs to break it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub bank: &'static str,
    /// Path under `/banks/<bank>/stet/psd2/v1.4.2`, with its query.
    pub path: String,
    pub token: Option<String>,
    pub body: Option<String>,
    /// Send `PSU-IP-Address` (the PSU is present).
    pub psu_ip: bool,
    /// The signed header list (default: the BPCE profile).
    pub signed: Option<Vec<&'static str>>,
    /// Replace the body after signing.
    pub tampered_body: Option<String>,
    pub request_id: Option<String>,
    /// Send no `Signature` header at all.
    pub unsigned: bool,
}

impl Call {
    pub fn new(method: Method, bank: &'static str, path: impl Into<String>, token: &str) -> Self {
        Self {
            method,
            bank,
            path: path.into(),
            token: Some(token.to_owned()),
            body: None,
            psu_ip: true,
            signed: None,
            tampered_body: None,
            request_id: Some(format!("req-{}", uuid::Uuid::new_v4().simple())),
            unsigned: false,
        }
    }

    pub fn get(bank: &'static str, path: impl Into<String>, token: &str) -> Self {
        Self::new(Method::GET, bank, path, token)
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(body.to_string());
        self
    }

    pub fn batch(mut self) -> Self {
        self.psu_ip = false;
        self
    }
}

/// Tokens from the token endpoint.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: Option<String>,
}

/// A running sandbox and a client for it.
pub struct Sandbox {
    pub handle: SandboxHandle,
    pub certs: DevCertPaths,
    pub client: awc::Client,
    pub signer: Signer,
}

/// One set of generated certificates per test binary (RSA key generation dominates a test's
/// start-up otherwise), under Cargo's per-target temporary directory; no key is committed.
fn shared_certs() -> DevCertPaths {
    static CERTS: std::sync::OnceLock<DevCertPaths> = std::sync::OnceLock::new();
    CERTS
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("sandbox-certs-{}", std::process::id()));
            generate_dev_certs(&dir, &DevCertOptions::default()).unwrap()
        })
        .clone()
}

/// An awc client trusting the test CA and presenting `identity` (cert, key) when given.
pub fn tls_client(ca: &Path, identity: Option<(&Path, &Path)>) -> awc::Client {
    let mut builder = SslConnector::builder(SslMethod::tls()).unwrap();
    builder.set_ca_file(ca).unwrap();
    if let Some((cert, key)) = identity {
        builder.set_certificate_chain_file(cert).unwrap();
        builder.set_private_key_file(key, SslFiletype::PEM).unwrap();
    }
    awc::Client::builder()
        .connector(awc::Connector::new().openssl(builder.build()))
        .disable_redirects()
        .timeout(Duration::from_secs(30))
        .finish()
}

pub fn signer_from(key: &Path, key_id: &str) -> Signer {
    let pem = std::fs::read(key).unwrap();
    Signer::new(&PKey::private_key_from_pem(&pem).unwrap(), key_id).unwrap()
}

fn extract<'a>(html: &'a str, marker: &str) -> &'a str {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("`{marker}` not in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

impl Sandbox {
    pub async fn start() -> Self {
        Self::start_with(Duration::from_secs(3600)).await
    }

    pub async fn start_with(access_token_ttl: Duration) -> Self {
        let certs = shared_certs();
        let options = SandboxOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            web_listen: "127.0.0.1:0".parse().unwrap(),
            server_cert: certs.sandbox_cert.clone(),
            server_key: certs.sandbox_key.clone(),
            client_ca: certs.ca_cert.clone(),
            tpp_client_id: CLIENT_ID.to_owned(),
            tpp_qseal_cert: certs.qseal_cert.clone(),
            access_token_ttl,
            clock: passerelle::clock::Clock::manual(),
        };
        let handle = sandbox::start(options).await.unwrap();
        let client = tls_client(&certs.ca_cert, Some((&certs.qwac_cert, &certs.qwac_key)));
        let signer = signer_from(&certs.qseal_key, CLIENT_ID);
        Self {
            handle,
            certs,
            client,
            signer,
        }
    }

    pub fn url(&self, bank: &str, path: &str) -> String {
        format!("{}/banks/{bank}/stet/psd2{path}", self.handle.base_url())
    }

    /// Sends `call` signed by `self.signer`.
    pub async fn send(&self, call: Call) -> Resp {
        self.try_send(&self.client, &self.signer, call)
            .await
            .unwrap()
    }

    /// Sends `call` with another client or signer; errors (dropped connections) are returned.
    pub async fn try_send(
        &self,
        client: &awc::Client,
        signer: &Signer,
        call: Call,
    ) -> Result<Resp, String> {
        let path = format!("/banks/{}/stet/psd2/v1.4.2{}", call.bank, call.path);
        let body = call.body.clone().unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![
            ("date".into(), httpdate()),
            ("digest".into(), digest_header(body.as_bytes())),
        ];
        if let Some(id) = &call.request_id {
            headers.push(("x-request-id".into(), id.clone()));
        }
        if call.psu_ip {
            headers.push(("psu-ip-address".into(), "192.168.0.1".into()));
        }
        let names: Vec<&str> = match &call.signed {
            Some(names) => names.clone(),
            None => {
                let mut names = vec!["(request-target)", "date", "digest", "x-request-id"];
                if call.psu_ip {
                    names.push("psu-ip-address");
                }
                names
            }
        };
        let signature = signer
            .sign(call.method.as_str(), &path, &headers, &names)
            .map_err(|e| e.to_string())?;
        let mut request = client.request(
            call.method.clone(),
            format!("{}{path}", self.handle.base_url()),
        );
        for (name, value) in &headers {
            request = request.insert_header((name.as_str(), value.as_str()));
        }
        if !call.unsigned {
            request = request.insert_header(("signature", signature));
        }
        if let Some(token) = &call.token {
            request = request.insert_header(("authorization", format!("Bearer {token}")));
        }
        let sent = call.tampered_body.clone().unwrap_or(body);
        if call.body.is_some() {
            request = request.insert_header(("content-type", "application/json"));
        }
        let mut response = request.send_body(sent).await.map_err(|e| e.to_string())?;
        let bytes = response
            .body()
            .limit(20 * 1024 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Resp {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: bytes.to_vec(),
        })
    }

    /// Fetches the authorize page, logs in as `persona` with the OTP, and returns the
    /// redirect URL the sandbox sends the browser to.
    pub async fn authorize_redirect(&self, bank: &str, persona: &str, scope: &str) -> url::Url {
        let page = self.authorize_page(bank, scope, Some("st-42")).await;
        self.log_in_on(bank, &page, persona).await
    }

    /// Logs in as `persona` with the OTP on a login `page` already fetched; returns the
    /// redirect URL the sandbox sends the browser to.
    pub async fn log_in_on(&self, bank: &str, page: &Resp, persona: &str) -> url::Url {
        assert_eq!(page.status, 200, "{}", page.text());
        let session = extract(&page.text(), "name=\"session\" value=\"").to_owned();
        let otp_page = self
            .form(
                bank,
                &[
                    ("session", &session),
                    ("action", "login"),
                    ("psu_id", persona),
                ],
            )
            .await;
        assert_eq!(otp_page.status, 200, "{}", otp_page.text());
        let done = self
            .form(
                bank,
                &[
                    ("session", &session),
                    ("action", "otp"),
                    ("otp", "12345678"),
                ],
            )
            .await;
        assert_eq!(done.status, 302, "{}", done.text());
        url::Url::parse(&done.header("location").unwrap()).unwrap()
    }

    pub async fn authorize_page(&self, bank: &str, scope: &str, state: Option<&str>) -> Resp {
        let mut url = url::Url::parse(&self.url(bank, "/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", scope);
        if let Some(state) = state {
            url.query_pairs_mut().append_pair("state", state);
        }
        self.raw_get(url.as_str()).await
    }

    pub async fn raw_get(&self, url: &str) -> Resp {
        let mut response = self.client.get(url).send().await.unwrap();
        let body = response.body().await.unwrap();
        Resp {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: body.to_vec(),
        }
    }

    /// POSTs the login/OTP form.
    pub async fn form(&self, bank: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_form(&self.url(bank, "/oauth/authorize"), fields)
            .await
    }

    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Resp {
        let mut response = self.client.post(url).send_form(&fields).await.unwrap();
        let body = response.body().await.unwrap();
        Resp {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: body.to_vec(),
        }
    }

    /// The code from a full OAuth dance.
    pub async fn code(&self, bank: &str, persona: &str, scope: &str) -> String {
        let redirect = self.authorize_redirect(bank, persona, scope).await;
        let pairs: Vec<(String, String)> = redirect.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("state".into(), "st-42".into())));
        pairs
            .into_iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v)
            .expect("a code in the redirect")
    }

    pub async fn token_form(&self, bank: &str, fields: &[(&str, &str)]) -> Resp {
        self.post_form(&self.url(bank, "/oauth/token"), fields)
            .await
    }

    /// Access (and refresh) token for `persona` with `scope`, through the whole dance.
    pub async fn login(&self, bank: &str, persona: &str, scope: &str) -> Tokens {
        let code = self.code(bank, persona, scope).await;
        let response = self
            .token_form(
                bank,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("client_id", CLIENT_ID),
                    ("redirect_uri", REDIRECT_URI),
                ],
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        tokens(&response)
    }

    /// A client-credentials (pisp) token.
    pub async fn pisp_token(&self, bank: &str) -> String {
        let response = self
            .token_form(
                bank,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", CLIENT_ID),
                    ("scope", "pisp"),
                ],
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        tokens(&response).access
    }

    /// PUT /consents for `ibans` (balances and transactions) and `psu_identity`.
    pub async fn consent(
        &self,
        bank: &'static str,
        token: &str,
        ibans: &[&str],
        psu_identity: bool,
    ) -> Resp {
        let list: Vec<Value> = ibans.iter().map(|i| json!({"iban": i})).collect();
        let body = json!({
            "balances": list,
            "transactions": list,
            "trustedBeneficiaries": false,
            "psuIdentity": psu_identity,
        });
        self.send(Call::new(Method::PUT, bank, "/consents", token).json(&body))
            .await
    }
}

pub fn tokens(response: &Resp) -> Tokens {
    let body = response.json();
    Tokens {
        access: body["access_token"].as_str().unwrap().to_owned(),
        refresh: body["refresh_token"].as_str().map(str::to_owned),
    }
}

fn httpdate() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Validates `value` against the definition `name` of `tests/schemas/stet-1.4.2.json`.
pub fn assert_schema(name: &str, value: &Value) {
    let root: Value = serde_json::from_str(include_str!("../schemas/stet-1.4.2.json")).unwrap();
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": format!("#/definitions/{name}"),
        "definitions": root["definitions"],
    });
    assert!(
        root["definitions"].get(name).is_some(),
        "no definition {name}"
    );
    let validator = jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} does not validate:\n{}\n{value:#}",
        errors.join("\n")
    );
}

/// A valid STET payment request of `amount` EUR from `debtor_iban`.
pub fn payment_request(debtor_iban: &str, amount: &str) -> Value {
    json!({
        "paymentInformationId": "MyPmtInfId",
        "creationDateTime": "2024-01-01T10:00:00.000+01:00",
        "numberOfTransactions": 1,
        "initiatingParty": {"name": "Passerelle"},
        "paymentTypeInformation": {"serviceLevel": "SEPA", "categoryPurpose": "DVPM"},
        "debtorAccount": {"iban": debtor_iban},
        "beneficiary": {
            "creditor": {"name": "Marchand SA"},
            "creditorAccount": {"iban": "FR7630004000031234567890143"}
        },
        "chargeBearer": "SLEV",
        "creditTransferTransaction": [{
            "paymentId": {"instructionId": "MyInstrId", "endToEndId": "MyEndToEndId"},
            "instructedAmount": {"currency": "EUR", "amount": amount},
            "remittanceInformation": ["Commande 42"]
        }],
        "supplementaryData": {
            "acceptedAuthenticationApproach": ["REDIRECT"],
            "successfulReportUrl": "https://tpp.example/payments/ok",
            "unsuccessfulReportUrl": "https://tpp.example/payments/ko"
        }
    })
}

impl Sandbox {
    /// Creates a payment request and approves it as `persona` on the sandbox's page; returns
    /// its resource id and where the PSU was sent back to.
    pub async fn approved_payment(
        &self,
        bank: &'static str,
        persona: &str,
        request: &Value,
    ) -> (String, String) {
        let token = self.pisp_token(bank).await;
        let created = self
            .send(Call::new(Method::POST, bank, "/payment-requests", &token).json(request))
            .await;
        assert_eq!(created.status, 201, "{}", created.text());
        let location = created.header("location").unwrap();
        let id = location.rsplit('/').next().unwrap().to_owned();
        let approval = created.json()["_links"]["consentApproval"]["href"]
            .as_str()
            .unwrap()
            .to_owned();
        let back = self.approve(bank, &approval, persona).await;
        (id, back)
    }

    /// Drives the approval page at `approval` (the `consentApproval` link) as `persona`: login,
    /// then the OTP; returns where the PSU is sent back to.
    pub async fn approve(&self, bank: &str, approval: &str, persona: &str) -> String {
        let page = self.raw_get(approval).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let session = extract(&page.text(), "name=\"session\" value=\"").to_owned();
        let otp = self
            .form(
                bank,
                &[
                    ("session", &session),
                    ("action", "login"),
                    ("psu_id", persona),
                ],
            )
            .await;
        assert_eq!(otp.status, 200);
        let done = self
            .form(
                bank,
                &[
                    ("session", &session),
                    ("action", "otp"),
                    ("otp", "12345678"),
                ],
            )
            .await;
        assert_eq!(done.status, 302);
        done.header("location").unwrap()
    }
}

/// Passerelle's own clients (STET and OAuth) for the `sandbox-bcp` profile, pointed at `sbx`.
pub struct Tpp {
    pub stet: passerelle::bank::stet::StetClient,
    pub oauth: passerelle::oauth::OAuthClient,
}

pub fn tpp(sbx: &Sandbox) -> Tpp {
    tpp_at(sbx, &sbx.handle.addr.to_string())
}

/// As [`tpp`], with the API at `api` (`host:port`) instead of the sandbox's.
pub fn tpp_at(sbx: &Sandbox, api: &str) -> Tpp {
    use passerelle::registry::{Environment, Registry, SandboxHosts};
    use passerelle::tls::client::{BankHttpClient, ClientOptions, TlsMaterial};
    use passerelle::tls::identity::Identity;
    let web = sbx.handle.web_addr.to_string();
    let registry = Registry::load(&[], Some(SandboxHosts { api, web: &web })).unwrap();
    let bank = registry.get("sandbox-bcp").unwrap();
    let qwac = Identity::from_pem_files(&sbx.certs.qwac_cert, &sbx.certs.qwac_key).unwrap();
    let material = TlsMaterial::load(qwac, &[&sbx.certs.ca_cert]).unwrap();
    let http = BankHttpClient::new(&material, ClientOptions::default()).unwrap();
    let qseal = Identity::from_pem_files(&sbx.certs.qseal_cert, &sbx.certs.qseal_key).unwrap();
    let stet = bank.stet().unwrap();
    let id = passerelle::httpsig::key_id(&(&stet.signature.key_id).into(), CLIENT_ID, &qseal.cert)
        .unwrap();
    let signer = std::sync::Arc::new(Signer::new(&qseal.key, id).unwrap());
    Tpp {
        stet: passerelle::bank::stet::StetClient::new(
            bank,
            stet,
            Environment::Sandbox,
            http.clone(),
            signer,
        ),
        oauth: passerelle::oauth::OAuthClient::new(
            bank.endpoints(Environment::Sandbox).oauth.as_ref().unwrap(),
            stet.pkce,
            CLIENT_ID,
            http,
        ),
    }
}

/// The `sandbox-bcp` profile pointing at `sbx`.
pub fn sandbox_bank(sbx: &Sandbox) -> passerelle::registry::Bank {
    let api = sbx.handle.addr.to_string();
    let web = sbx.handle.web_addr.to_string();
    let registry = passerelle::registry::Registry::load(
        &[],
        Some(passerelle::registry::SandboxHosts {
            api: &api,
            web: &web,
        }),
    )
    .unwrap();
    registry.get("sandbox-bcp").unwrap().clone()
}
