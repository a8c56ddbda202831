//! The draft-cavage-10 signing string (§2.3).
//!
//! http-sig 0.6 has a canonicalizer (`CanonicalizeExt`), but it is not used:
//! it reads headers through `RequestLike::header`, which returns an
//! `http` 0.2 `HeaderValue` — a type this crate cannot name without adding
//! `http` 0.2 as a dependency next to actix's `http` 1. It also takes only one
//! value per header (no `, ` joining of repeated headers) and defaults to
//! `(created)` (draft -12) rather than `date` (draft -10). The rules are a
//! dozen lines, so they are written here over [`HeaderSource`].

use super::error::{CanonicalError, SignError};
use super::headers::HeaderSource;

/// The only pseudo-header that draft-cavage-10 defines.
pub const REQUEST_TARGET: &str = "(request-target)";

/// Builds the signing string for a request: one `name: value` line per entry
/// of `header_names`, joined by `\n`, without a trailing newline.
///
/// - `(request-target)` is `<lowercase method> <path_and_query>`;
///   `path_and_query` is the path with its query string, exactly as sent.
/// - Names are matched case-insensitively and written lowercase.
/// - Repeated headers are joined with `, ` in the order given by `headers`;
///   leading and trailing spaces and tabs of each value are dropped.
/// - A listed header that is absent is an error ([`SignError::MissingHeader`]),
///   never skipped; an empty list is an error too ([`SignError::NoHeaders`]).
///
/// Bytes, not `String`, because header values may carry non-UTF-8 `obs-text`
/// that must be signed as transmitted.
pub fn signing_string<'n, H, I>(
    method: &str,
    path_and_query: &str,
    headers: &H,
    header_names: I,
) -> Result<Vec<u8>, SignError>
where
    H: HeaderSource + ?Sized,
    I: IntoIterator<Item = &'n str>,
{
    Ok(build(method, path_and_query, headers, header_names)?)
}

/// [`signing_string`] with the error type shared by signer and verifier.
pub(crate) fn build<'n, H, I>(
    method: &str,
    path_and_query: &str,
    headers: &H,
    header_names: I,
) -> Result<Vec<u8>, CanonicalError>
where
    H: HeaderSource + ?Sized,
    I: IntoIterator<Item = &'n str>,
{
    check_request_target(method, path_and_query)?;
    let mut out = Vec::with_capacity(256);
    let mut first = true;
    for name in header_names {
        check_name(name)?;
        if !first {
            out.push(b'\n');
        }
        first = false;
        out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
        out.extend_from_slice(b": ");
        if name.starts_with('(') {
            if !name.eq_ignore_ascii_case(REQUEST_TARGET) {
                return Err(CanonicalError::UnsupportedPseudoHeader(
                    name.to_ascii_lowercase(),
                ));
            }
            out.extend(method.bytes().map(|b| b.to_ascii_lowercase()));
            out.push(b' ');
            out.extend_from_slice(path_and_query.as_bytes());
        } else {
            let mut found = false;
            let mut bad_value = false;
            headers.visit_values(name, &mut |value| {
                let value = trim_ows(value);
                bad_value |= value.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
                if found {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(value);
                found = true;
            });
            if !found {
                return Err(CanonicalError::MissingHeader(name.to_ascii_lowercase()));
            }
            if bad_value {
                return Err(CanonicalError::InvalidHeaderValue(
                    name.to_ascii_lowercase(),
                ));
            }
        }
    }
    if first {
        return Err(CanonicalError::NoHeaders);
    }
    Ok(out)
}

/// Rejects what would make `(request-target)` ambiguous or wrong, notably a
/// full URL passed where the path is expected.
fn check_request_target(method: &str, path_and_query: &str) -> Result<(), CanonicalError> {
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return Err(CanonicalError::InvalidRequestTarget(
            "the method must be a non-empty HTTP token such as `GET`",
        ));
    }
    if !(path_and_query.starts_with('/') || path_and_query == "*") {
        return Err(CanonicalError::InvalidRequestTarget(
            "the path must start with `/` (pass the path and query string, not the full URL)",
        ));
    }
    if path_and_query.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(CanonicalError::InvalidRequestTarget(
            "the path contains whitespace or control characters (percent-encode it)",
        ));
    }
    Ok(())
}

/// A signed header name is an HTTP token, or a parenthesised token for
/// pseudo-headers; anything else would break the space-separated `headers`
/// parameter or the `name: value` lines.
fn check_name(name: &str) -> Result<(), CanonicalError> {
    let inner = name
        .strip_prefix('(')
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(name);
    if inner.is_empty() || !inner.bytes().all(is_tchar) {
        return Err(CanonicalError::InvalidHeaderName(name.to_owned()));
    }
    Ok(())
}

/// `tchar` from RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Drops optional whitespace (SP / HTAB) around a field value (RFC 9110 §5.5).
fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &value[start..end]
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn request_target_lowercases_method_and_keeps_query() {
        let s = signing_string(
            "GET",
            "/a/b?x=1&y=2",
            &[("Host", "h")],
            ["(request-target)"],
        );
        assert_eq!(s.unwrap(), b"(request-target): get /a/b?x=1&y=2");
    }

    #[test]
    fn repeated_headers_are_joined_with_comma_space_in_order() {
        let headers = [("X-Multi", "a"), ("Host", "h"), ("x-multi", "  b\t")];
        let s = signing_string("GET", "/", &headers, ["x-multi", "HOST"]).unwrap();
        assert_eq!(s, b"x-multi: a, b\nhost: h");
    }

    #[test]
    fn empty_value_is_present_not_missing() {
        let s = signing_string("GET", "/", &[("Digest", "")], ["digest"]).unwrap();
        assert_eq!(s, b"digest: ");
    }

    #[test]
    fn missing_header_is_an_error() {
        let err = signing_string("GET", "/", &[("Date", "d")], ["date", "digest"]).unwrap_err();
        assert!(
            matches!(err, SignError::MissingHeader(ref n) if n == "digest"),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_unsupported_pseudo_headers_bad_names_and_values() {
        let h = [("Date", "d"), ("X-Bad", "a\r\nb")];
        assert!(matches!(
            signing_string("GET", "/", &h, ["(created)"]),
            Err(SignError::UnsupportedPseudoHeader(n)) if n == "(created)"
        ));
        assert!(matches!(
            signing_string("GET", "/", &h, ["da te"]),
            Err(SignError::InvalidHeaderName(_))
        ));
        assert!(matches!(
            signing_string("GET", "/", &h, ["x-bad"]),
            Err(SignError::InvalidHeaderValue(n)) if n == "x-bad"
        ));
        assert!(matches!(
            signing_string("GET", "/", &h, []),
            Err(SignError::NoHeaders)
        ));
    }

    #[test]
    fn rejects_full_url_and_bad_method() {
        assert!(matches!(
            signing_string(
                "GET",
                "https://bank.example/accounts",
                &[("Date", "d")],
                ["date"]
            ),
            Err(SignError::InvalidRequestTarget(_))
        ));
        assert!(matches!(
            signing_string("", "/", &[("Date", "d")], ["date"]),
            Err(SignError::InvalidRequestTarget(_))
        ));
    }

    #[test]
    fn non_utf8_values_are_signed_as_sent() {
        let headers: Vec<(&str, &[u8])> = vec![("X-Name", b"caf\xe9")];
        let s = signing_string("GET", "/", &headers, ["x-name"]).unwrap();
        assert_eq!(s, b"x-name: caf\xe9");
    }
}
