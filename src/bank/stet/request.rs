//! Building, signing and reading one STET exchange, without I/O: headers, `Digest`, the QSEAL
//! `Signature`, percent-encoded paths, and the status → result rules.

use std::time::Duration;

use awc::http::{Method, StatusCode};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::wire::{self, ErrorModel};
use crate::bank::{BankErrorKind, PsuContext};
use crate::httpsig::{self, Signer};
use crate::registry::{self, SignatureProfile};
use crate::tls::client::{OutboundRequest, RawResponse};

impl From<&registry::KeyIdFormat> for httpsig::KeyIdFormat {
    fn from(profile: &registry::KeyIdFormat) -> Self {
        match profile {
            registry::KeyIdFormat::ClientId => Self::ClientId,
            registry::KeyIdFormat::CertUrl { cert_url } => Self::CertUrl(cert_url.to_string()),
            registry::KeyIdFormat::SnCa => Self::SnCa,
        }
    }
}

/// Everything but RFC 3986 unreserved characters is escaped: STET resource ids may hold
/// spaces, `/`, `?`, `:`, `(`, `)`, `,` and `'`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A resource id as one path segment: `CPT 0400/3580?74026` → `CPT%200400%2F3580%3F74026`.
pub fn path_segment(id: &str) -> String {
    utf8_percent_encode(id, PATH_SEGMENT).to_string()
}

/// The `Date` header format (RFC 7231 IMF-fixdate).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// One request to sign and send.
#[derive(Debug)]
pub struct StetRequest<'a> {
    /// Method.
    pub method: Method,
    /// Full URL, path already percent-encoded.
    pub url: Url,
    /// JSON body (empty for GET).
    pub body: Bytes,
    /// Bearer token.
    pub token: &'a SecretString,
    /// PSU context, when the PSU is present.
    pub psu: Option<&'a PsuContext>,
    /// The `X-Request-ID` (fresh per call).
    pub request_id: &'a str,
    /// The `Date` header instant.
    pub date: DateTime<Utc>,
}

/// Adds the STET headers, the `Digest` (over the exact body; on GET too when the profile asks)
/// and the `Signature` over the profile's header list. A listed header that is missing stops
/// the request ([`BankErrorKind::Request`]) rather than being skipped.
pub fn build(
    request: StetRequest<'_>,
    profile: &SignatureProfile,
    signer: &Signer,
) -> Result<OutboundRequest, BankErrorKind> {
    let mut headers: Vec<(String, String)> = vec![
        ("x-request-id".into(), request.request_id.to_owned()),
        ("date".into(), http_date(request.date)),
        (
            "authorization".into(),
            format!("Bearer {}", request.token.expose_secret()),
        ),
        (
            "accept".into(),
            "application/hal+json, application/json".into(),
        ),
    ];
    let has_body = !request.body.is_empty();
    if has_body {
        headers.push(("content-type".into(), "application/json".into()));
    }
    if has_body || request.method != Method::GET || profile.digest_on_get {
        headers.push(("digest".into(), httpsig::digest_header(&request.body)));
    }
    if let Some(psu) = request.psu {
        for (name, value) in psu.headers() {
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut path_and_query = request.url.path().to_owned();
    if let Some(query) = request.url.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    // Every always-signed header must be there (signing fails otherwise); a PSU header is
    // signed when it is sent: the PSU's browser may not have given a Referer or Accept-Charset.
    let sent = |name: &str| headers.iter().any(|(n, _)| n == name);
    let names: Vec<&str> = profile
        .signed_headers(request.psu.is_some())
        .filter(|name| !name.starts_with("psu-") || sent(name))
        .collect();
    let signature = signer
        .sign(request.method.as_str(), &path_and_query, &headers, &names)
        .map_err(|e| BankErrorKind::Request(format!("cannot sign: {e}")))?;
    headers.push(("signature".into(), signature));
    Ok(OutboundRequest {
        method: request.method,
        url: request.url.into(),
        headers,
        body: request.body,
    })
}

/// Reads a 2xx answer: `204` or an empty body (BPCE's `PUT /consents` answers 200 with no
/// body, the spec says 201) is `None`; anything else must parse as `T`.
pub fn success<T: DeserializeOwned>(raw: &RawResponse) -> Result<Option<T>, BankErrorKind> {
    if raw.status == StatusCode::NO_CONTENT || raw.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    wire::from_slice(&raw.body)
        .map(Some)
        .map_err(|e| BankErrorKind::BadResponse {
            field: e.field,
            message: e.message,
        })
}

/// Maps a non-2xx answer to its error kind.
pub fn failure(raw: &RawResponse) -> BankErrorKind {
    let model: Option<ErrorModel> = serde_json::from_slice(&raw.body).ok();
    let message = model
        .as_ref()
        .map(|m| m.message.clone())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&raw.body[..raw.body.len().min(200)]).into_owned()
        });
    let status = raw.status.as_u16();
    match status {
        401 => {
            let in_body = model
                .as_ref()
                .and_then(|m| m.error.as_deref())
                .is_some_and(|e| e.eq_ignore_ascii_case("invalid_token"));
            let in_header = raw
                .header("www-authenticate")
                .is_some_and(|h| h.contains("invalid_token"));
            BankErrorKind::Unauthorized {
                invalid_token: in_body || in_header,
            }
        }
        403 => BankErrorKind::Forbidden { message },
        404 => BankErrorKind::NotFound { message },
        429 => BankErrorKind::RateLimited {
            retry_after: raw
                .header("retry-after")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs),
        },
        // 501 is "not implemented": a permanent answer. As `Unavailable` it would count as
        // transient and be retried by the scheduler forever (the sandbox, like the BPCE portal,
        // answers 501 to GET /trusted-beneficiaries).
        501 => BankErrorKind::NotSupported { message },
        408 | 500..=599 => BankErrorKind::Unavailable {
            status: Some(status),
            reason: message,
        },
        _ => BankErrorKind::Rejected { status, message },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str, headers: &[(&str, &str)]) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }

    #[test]
    fn resource_ids_are_percent_encoded_as_one_segment() {
        assert_eq!(
            path_segment("CPT 0400/3580?74026"),
            "CPT%200400%2F3580%3F74026"
        );
        assert_eq!(path_segment("a:b(c),d'e"), "a%3Ab%28c%29%2Cd%27e");
        assert_eq!(
            path_segment("175150009204004305180"),
            "175150009204004305180"
        );
    }

    #[test]
    fn put_consents_200_empty_and_201_and_204_are_empty_success() {
        let ok: Option<serde_json::Value> = success(&raw(200, "", &[("digest", "")])).unwrap();
        assert!(ok.is_none());
        assert!(success::<serde_json::Value>(&raw(201, "", &[]))
            .unwrap()
            .is_none());
        assert!(success::<serde_json::Value>(&raw(204, "", &[]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn statuses_map_to_kinds() {
        let expired = raw(
            401,
            r#"{"status":401,"error":"invalid_token","message":"expired"}"#,
            &[],
        );
        assert!(matches!(
            failure(&expired),
            BankErrorKind::Unauthorized {
                invalid_token: true
            }
        ));
        let limited = failure(&raw(429, "", &[("Retry-After", "120")]));
        assert!(matches!(
            limited,
            BankErrorKind::RateLimited { retry_after: Some(d) } if d.as_secs() == 120
        ));
        assert!(matches!(
            failure(&raw(403, "{}", &[])),
            BankErrorKind::Forbidden { .. }
        ));
        assert!(matches!(
            failure(&raw(404, "", &[])),
            BankErrorKind::NotFound { .. }
        ));
        assert!(matches!(
            failure(&raw(503, "<html>", &[])),
            BankErrorKind::Unavailable {
                status: Some(503),
                ..
            }
        ));
        assert!(matches!(
            failure(&raw(501, r#"{"status":501,"message":"not available"}"#, &[])),
            BankErrorKind::NotSupported { message } if message == "not available"
        ));
        assert!(matches!(
            failure(&raw(400, r#"{"status":400,"message":"Bad signature"}"#, &[])),
            BankErrorKind::Rejected { status: 400, message } if message == "Bad signature"
        ));
    }
}
