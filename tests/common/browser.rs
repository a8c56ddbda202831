//! A real headless Chromium for end-to-end tests, driven over WebDriver (chromedriver) with
//! fantoccini.
//!
//! Debian's `chromium` and `chromium-driver` provide the two programs (`.ci/run` installs them).
//! Where they are missing, [`Browser::start`] says so and returns `None` (the test skips); under
//! `CI=true` it panics instead: CI must run the browser tests.
//!
//! Every helper is bounded by a timeout, and when one fails it saves a screenshot and the page's
//! HTML under `target/browser-screenshots/` before panicking, naming the files in the message.
//! Dropping a [`Browser`] ends its session, its chromedriver and any Chromium process of its
//! profile; [`Browser::quit`] does the same gracefully and is what a test should call at its end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long `fill` and `click` wait for their element to appear.
const ELEMENT_WAIT: Duration = Duration::from_secs(20);

/// The Chromium flags known to work on this machine kind: without the background-networking
/// ones Chromium's own connections to Google are refused by the closed network, many at a time.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// How long one WebDriver step (a navigation, a click that submits a form, a lookup) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long chromedriver and Chromium may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium with its own chromedriver and a fresh, empty profile.
pub struct Browser {
    client: Client,
    driver: Child,
    driver_port: u16,
    session_id: Option<String>,
    profile: tempfile::TempDir,
    failures: u32,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let fixed = Path::new("/usr/bin").join(name);
    if fixed.is_file() {
        return Some(fixed);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `sha256/base64` of a certificate's SubjectPublicKeyInfo, as
/// `--ignore-certificate-errors-spki-list` wants it.
fn spki_hash(cert_pem: &Path) -> String {
    let pem = std::fs::read(cert_pem).unwrap();
    let cert = openssl::x509::X509::from_pem(&pem).unwrap();
    let spki = cert.public_key().unwrap().public_key_to_der().unwrap();
    let digest = openssl::sha::sha256(&spki);
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where failure screenshots go: `target/browser-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("browser-screenshots")
}

impl Browser {
    /// A browser that trusts no extra TLS server: for pages on plain loopback HTTP.
    pub async fn start() -> Option<Self> {
        Self::start_trusting(&[]).await
    }

    /// A browser that accepts the TLS servers whose certificates (PEM files) are given, and only
    /// those, besides the system's roots: Chromium is told their public keys with
    /// `--ignore-certificate-errors-spki-list` (honoured because the profile directory is set),
    /// so a dev-CA server such as the sandbox bank's pages loads without a blanket
    /// `--ignore-certificate-errors`.
    ///
    /// `None` when Chromium or chromedriver is missing (a panic under `CI=true`).
    pub async fn start_trusting(server_certs: &[&Path]) -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
        else {
            assert!(
                !under_ci(),
                "chromium and chromedriver must be installed under CI=true \
                 (Debian packages chromium and chromium-driver; .ci/run installs them)"
            );
            eprintln!(
                "skipping: install chromium and chromium-driver (Debian packages) to run the \
                 real-browser tests"
            );
            return None;
        };
        let profile = tempfile::Builder::new()
            .prefix("passerelle-chromium-")
            .tempdir()
            .unwrap();
        let user_data = profile.path().join("user-data");
        let home = profile.path().join("home");
        std::fs::create_dir_all(&user_data).unwrap();
        std::fs::create_dir_all(&home).unwrap();

        let driver_port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .arg(format!(
                "--log-path={}",
                profile.path().join("chromedriver.log").display()
            ))
            // Chromium inherits this: its NSS database and caches stay in the temporary dir.
            .env("HOME", &home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        // From here on, a panic still ends chromedriver (through `Guard`'s Drop).
        let mut guard = Guard(Some(driver));
        wait_for_port(driver_port, START_TIMEOUT);

        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|s| (*s).to_owned()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        if !server_certs.is_empty() {
            let hashes: Vec<String> = server_certs.iter().map(|c| spki_hash(c)).collect();
            args.push(format!(
                "--ignore-certificate-errors-spki-list={}",
                hashes.join(",")
            ));
        }
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium.to_str().unwrap(),
                "args": args,
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = tokio::time::timeout(
            START_TIMEOUT,
            ClientBuilder::new(connector)
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{driver_port}")),
        )
        .await
        .unwrap_or_else(|_| panic!("Chromium did not start within {START_TIMEOUT:?}"))
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(profile.path().join("chromedriver.log"))
                .unwrap_or_default();
            panic!("cannot start a Chromium session: {e}\nchromedriver log:\n{log}")
        });
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(10)),
                Some(STEP_TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .unwrap();
        let session_id = client.session_id().await.unwrap();
        Some(Self {
            client,
            driver: guard.0.take().unwrap(),
            driver_port,
            session_id,
            profile,
            failures: 0,
        })
    }

    /// The fantoccini client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs one step with [`STEP_TIMEOUT`]; on an error or a timeout, saves a screenshot and the
    /// page's HTML and panics with `what`.
    async fn step<T, E: std::fmt::Display>(
        &mut self,
        what: &str,
        fut: impl Future<Output = Result<T, E>>,
    ) -> T {
        match tokio::time::timeout(STEP_TIMEOUT, fut).await {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => self.fail(&format!("{what}: {e}")).await,
            Err(_) => {
                self.fail(&format!("{what}: no answer within {STEP_TIMEOUT:?}"))
                    .await
            }
        }
    }

    /// Saves a screenshot and the page's HTML, then panics with `message`, the current URL and
    /// where the files are.
    pub async fn fail(&mut self, message: &str) -> ! {
        self.failures += 1;
        let test = std::thread::current()
            .name()
            .unwrap_or("browser")
            .replace("::", "-");
        let base = screenshot_dir().join(format!("{test}-{}", self.failures));
        let url = self
            .bounded(self.client.current_url())
            .await
            .map(|u| u.to_string())
            .unwrap_or_else(|| "<unknown>".into());
        let png = base.with_extension("png");
        let html = base.with_extension("html");
        let saved = match self.save_screenshot(&png).await {
            Ok(()) => format!("screenshot {}", png.display()),
            Err(e) => format!("no screenshot ({e})"),
        };
        if let Some(source) = self.bounded(self.client.source()).await {
            let _ = std::fs::write(&html, source);
        }
        panic!(
            "browser step failed: {message}\n  at {url}\n  {saved}, page HTML {}",
            html.display()
        )
    }

    async fn bounded<T, E>(&self, fut: impl Future<Output = Result<T, E>>) -> Option<T> {
        tokio::time::timeout(Duration::from_secs(10), fut)
            .await
            .ok()?
            .ok()
    }

    async fn save_screenshot(&self, path: &Path) -> Result<(), String> {
        let png = self
            .bounded(self.client.screenshot())
            .await
            .ok_or("the browser did not answer")?;
        std::fs::create_dir_all(path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(path, png).map_err(|e| e.to_string())
    }

    /// Saves a PNG of the viewport to `path` (for debugging).
    pub async fn screenshot(&mut self, path: &Path) {
        if let Err(e) = self.save_screenshot(path).await {
            self.fail(&format!("screenshot to {}: {e}", path.display()))
                .await
        }
    }

    /// Navigates to `url` and waits for the page to load. Fails on Chromium's certificate
    /// interstitial (which WebDriver reports as a successful navigation).
    pub async fn goto(&mut self, url: &str) {
        let client = self.client.clone();
        self.step(&format!("open {url}"), client.goto(url)).await;
        if self.title().await == "Privacy error" {
            self.fail(&format!(
                "{url}: Chromium does not trust its TLS certificate \
                 (pass the server's certificate to Browser::start_trusting)"
            ))
            .await
        }
    }

    /// Types `text` into the (first) element matching `css`, after clearing it. Waits for the
    /// element: a click that left for another page may return before that page is there.
    pub async fn fill(&mut self, css: &str, text: &str) {
        let client = self.client.clone();
        self.step(&format!("fill `{css}`"), async move {
            let field = client
                .wait()
                .at_most(ELEMENT_WAIT)
                .for_element(Locator::Css(css))
                .await?;
            field.clear().await?;
            field.send_keys(text).await
        })
        .await
    }

    /// Clicks the (first) element matching `css`; a click that submits a form returns once the
    /// next page has loaded.
    pub async fn click(&mut self, css: &str) {
        let client = self.client.clone();
        self.step(&format!("click `{css}`"), async move {
            client
                .wait()
                .at_most(ELEMENT_WAIT)
                .for_element(Locator::Css(css))
                .await?
                .click()
                .await
        })
        .await
    }

    /// The visible text of the (first) element matching `css`.
    pub async fn text(&mut self, css: &str) -> String {
        let client = self.client.clone();
        // Waits like `click`: right after a click that submits a form, the next page may not
        // be there yet (a wrong OTP's error was once read before its page loaded).
        self.step(&format!("read `{css}`"), async move {
            client
                .wait()
                .at_most(ELEMENT_WAIT)
                .for_element(Locator::Css(css))
                .await?
                .text()
                .await
        })
        .await
    }

    /// Waits until an element matches `css` (a click that leaves for another origin may return
    /// before the next page is there).
    pub async fn wait_for(&mut self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.exists(css).await {
            if Instant::now() >= deadline {
                self.fail(&format!("waited {timeout:?} for `{css}`")).await
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether an element matches `css` on the current page (no waiting).
    pub async fn exists(&mut self, css: &str) -> bool {
        let client = self.client.clone();
        let found = self
            .step(&format!("look for `{css}`"), async move {
                client.find_all(Locator::Css(css)).await
            })
            .await;
        !found.is_empty()
    }

    pub async fn current_url(&mut self) -> url::Url {
        let client = self.client.clone();
        self.step("read the current URL", client.current_url())
            .await
    }

    /// The page's HTML as the browser holds it now.
    pub async fn page_source(&mut self) -> String {
        let client = self.client.clone();
        self.step("read the page source", client.source()).await
    }

    /// The page's title.
    pub async fn title(&mut self) -> String {
        let client = self.client.clone();
        self.step("read the title", client.title()).await
    }

    /// Waits until the current URL satisfies `predicate`, polling every 50 ms, and returns it;
    /// fails the test (with a screenshot) after `timeout`.
    pub async fn wait_for_url(
        &mut self,
        what: &str,
        timeout: Duration,
        predicate: impl Fn(&url::Url) -> bool,
    ) -> url::Url {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url().await;
            if predicate(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("waited {timeout:?} for the URL to be {what}"))
                    .await
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the session (Chromium exits) and chromedriver.
    pub async fn quit(mut self) {
        if self.session_id.is_some() {
            let client = self.client.clone();
            if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(10), client.close()).await
            {
                self.session_id = None;
            }
        }
        // Drop does the rest.
    }
}

/// Ends chromedriver if the browser never got going.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for_port(port: u16, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on port {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `DELETE /session/<id>` to chromedriver without the async runtime (which may be gone when a
/// failed test unwinds): chromedriver then ends Chromium itself.
fn delete_session_blocking(port: u16, session: &str) {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!(
        "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
    }
}

/// Kills (by pid) any process still running with this browser's profile directory on its
/// command line: Chromium's helpers, should chromedriver have gone before them.
fn kill_strays(profile: &Path) {
    let needle = profile.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session_id.take() {
            delete_session_blocking(self.driver_port, &session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        kill_strays(self.profile.path());
    }
}

/// The TPP's redirect target: answers "received" and records each query string it gets.
pub struct RedirectTarget {
    pub url: String,
    received: Arc<Mutex<Vec<String>>>,
    pub server: actix_web::dev::ServerHandle,
}

impl RedirectTarget {
    pub fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = web::Data::from(received.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new().app_data(log.clone()).route(
                "/callback",
                web::get().to(
                    |req: HttpRequest, log: web::Data<Mutex<Vec<String>>>| async move {
                        log.lock().unwrap().push(req.query_string().to_owned());
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body("<!doctype html><title>TPP</title><h1>received</h1>")
                    },
                ),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/callback"),
            received,
            server: handle,
        }
    }

    pub fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }
}
