//! The PSU's browser request, turned into the `PSU-*` headers of calls made while they are
//! present (which is also what keeps those calls out of the bank's daily batch quota).

use actix_web::HttpRequest;
use chrono::{DateTime, Utc};

use crate::bank::PsuContext;

/// The PSU context of a browser request; its `PSU-Date` is `now` (the injected clock's).
pub fn from_request(req: &HttpRequest, now: DateTime<Utc>) -> PsuContext {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let peer = req.peer_addr();
    PsuContext {
        ip_address: peer
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
        ip_port: peer.map(|a| a.port().to_string()),
        http_method: Some(req.method().to_string()),
        // HTTP-date (RFC 9110 IMF-fixdate), as the PSU's browser would send it.
        date: Some(now.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        user_agent: header("user-agent"),
        referer: header("referer"),
        accept: header("accept"),
        accept_charset: header("accept-charset"),
        accept_encoding: header("accept-encoding"),
        accept_language: header("accept-language"),
    }
}
