//! What binds a journey to the browser that started it, and keeps other sites out of it.
//!
//! "Continue" on the connect page gives the browser a random value in an `HttpOnly`,
//! `SameSite=Lax` cookie (`__Host-passerelle_journey` and `Secure` when the public URL is https;
//! without prefix and `Secure` on plain-http loopback, where a browser would not send a `Secure`
//! cookie back). Only its SHA-256 is stored: with the OAuth `state`, with the consent form, and
//! with the connection for the browser that passed the last SCA. A code that comes back in
//! another browser, a consent form posted from another browser, or a consent change asked for
//! by anyone but the browser that just passed SCA is refused or sent to the bank for a new SCA.
//! The journey's forms also refuse a cross-origin POST (`Sec-Fetch-Site`, `Origin`).

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::HttpRequest;
use url::Url;

use crate::connect::{random_token, token_hash};

/// The cookie name on a plain-http (loopback) public URL.
const PLAIN_NAME: &str = "passerelle_journey";
/// The cookie name on an https public URL: the `__Host-` prefix makes browsers refuse it unless
/// it is `Secure`, has `Path=/` and no `Domain`, so a sibling host cannot plant one.
const HOST_NAME: &str = "__Host-passerelle_journey";
/// How long the browser keeps the value: a journey (link, bank, consent) fits well within it.
const COOKIE_LIFETIME_MINUTES: i64 = 120;

/// The browser's journey value: the cookie's value, and whether it must be (re)sent.
pub struct BrowserBinding {
    value: String,
    fresh: bool,
    secure: bool,
}

fn secure(public_url: &Url) -> bool {
    public_url.scheme() == "https"
}

fn name(public_url: &Url) -> &'static str {
    if secure(public_url) {
        HOST_NAME
    } else {
        PLAIN_NAME
    }
}

/// A well-formed value: what [`random_token`] makes (64 hex digits), nothing else.
fn well_formed(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA-256 of the browser's journey cookie, when it sends a well-formed one.
pub fn browser_hash(req: &HttpRequest, public_url: &Url) -> Option<String> {
    req.cookie(name(public_url))
        .map(|c| c.value().to_owned())
        .filter(|v| well_formed(v))
        .map(|v| token_hash(&v))
}

impl BrowserBinding {
    /// The browser's value, or a new one when it has none.
    pub fn of(req: &HttpRequest, public_url: &Url) -> Result<Self, openssl::error::ErrorStack> {
        let secure = secure(public_url);
        match req
            .cookie(name(public_url))
            .map(|c| c.value().to_owned())
            .filter(|v| well_formed(v))
        {
            Some(value) => Ok(Self {
                value,
                fresh: false,
                secure,
            }),
            None => Ok(Self {
                value: random_token()?,
                fresh: true,
                secure,
            }),
        }
    }

    /// What is stored: the value's SHA-256.
    pub fn hash(&self) -> String {
        token_hash(&self.value)
    }

    /// The `Set-Cookie` to send, each time a journey starts (it renews the lifetime).
    pub fn cookie(&self) -> Cookie<'static> {
        let name = if self.secure { HOST_NAME } else { PLAIN_NAME };
        Cookie::build(name, self.value.clone())
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(time::Duration::minutes(COOKIE_LIFETIME_MINUTES))
            .finish()
    }

    /// Whether the browser had no value before this request.
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }
}

/// Whether a form POST comes from Passerelle's own pages. `Sec-Fetch-Site` (every current
/// browser) decides when sent: only `same-origin` passes. Without it, `Origin` must name the
/// public URL's origin, except `null`: under the pages' `Referrer-Policy: no-referrer`, browsers
/// send `Origin: null` even for a page's own form, so `null` alone proves nothing either way
/// (such an older browser still needs the journey cookie, which `SameSite=Lax` keeps off a
/// cross-site POST). A client that sends neither is no browser another site could drive.
pub fn same_origin(req: &HttpRequest, public_url: &Url) -> bool {
    let header = |name: &str| req.headers().get(name).map(|v| v.to_str().unwrap_or(""));
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    match header("origin") {
        Some("null") | None => true,
        Some(origin) => origin == public_url.origin().ascii_serialization(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn only_passerelles_own_pages_may_post() {
        let public = Url::parse("http://127.0.0.1:8080/").unwrap();
        let ok = |headers: &[(&str, &str)]| {
            let mut req = TestRequest::post();
            for h in headers {
                req = req.insert_header(*h);
            }
            same_origin(&req.to_http_request(), &public)
        };
        assert!(ok(&[]));
        assert!(ok(&[("Origin", "http://127.0.0.1:8080")]));
        assert!(ok(&[
            ("Sec-Fetch-Site", "same-origin"),
            ("Origin", "http://127.0.0.1:8080")
        ]));
        assert!(!ok(&[("Origin", "https://evil.example")]));
        // What a browser sends for the page's own form under `Referrer-Policy: no-referrer`.
        assert!(ok(&[("Sec-Fetch-Site", "same-origin"), ("Origin", "null")]));
        assert!(!ok(&[("Sec-Fetch-Site", "cross-site"), ("Origin", "null")]));
        assert!(!ok(&[
            ("Sec-Fetch-Site", "cross-site"),
            ("Origin", "http://127.0.0.1:8080")
        ]));
        assert!(!ok(&[("Origin", "http://127.0.0.1:9999")]));
        assert!(!ok(&[("Sec-Fetch-Site", "cross-site")]));
        assert!(!ok(&[("Sec-Fetch-Site", "same-site")]));
    }

    #[test]
    fn the_cookie_is_host_only_and_secure_on_https() {
        let req = TestRequest::default().to_http_request();
        let https = Url::parse("https://pass.example/").unwrap();
        let cookie = BrowserBinding::of(&req, &https).unwrap().cookie();
        assert_eq!(cookie.name(), "__Host-passerelle_journey");
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Lax));
        assert_eq!(cookie.path(), Some("/"));
        assert!(cookie.domain().is_none());
        let http = Url::parse("http://127.0.0.1:8080/").unwrap();
        let cookie = BrowserBinding::of(&req, &http).unwrap().cookie();
        assert_eq!(cookie.name(), "passerelle_journey");
        assert_ne!(cookie.secure(), Some(true));
    }

    #[test]
    fn a_malformed_cookie_is_no_binding() {
        let public = Url::parse("http://127.0.0.1:8080/").unwrap();
        let req = TestRequest::default()
            .cookie(Cookie::new(PLAIN_NAME, "short"))
            .to_http_request();
        assert!(browser_hash(&req, &public).is_none());
        assert!(BrowserBinding::of(&req, &public).unwrap().is_fresh());
    }
}
