//! The `Signature` header value: `keyId="…",algorithm="rsa-sha256",headers="…",signature="…"`.
//!
//! http-sig's own parser is not used because it splits the value on commas,
//! which cuts a quoted Berlin-Group keyId such as
//! `SN=9FA1,CA=CN=D-TRUST%20CA%202-1%202015,O=D-Trust%20GmbH,C=DE` apart.
//! This one reads RFC 9110 quoted strings (with backslash escapes).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::error::VerifyError;
use super::signing_string::is_tchar;

/// The signed header list that applies when `headers` is absent (draft-cavage-10
/// §2.1.3; drafts -11/-12 changed it to `(created)`, which STET does not use).
pub const DEFAULT_SIGNED_HEADERS: &str = "date";

/// A signature algorithm this module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, the only algorithm STET names.
    RsaSha256,
}

impl Algorithm {
    /// The name used in the `algorithm` parameter.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaSha256 => "rsa-sha256",
        }
    }
}

/// The parameters of one `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    /// Identifies the key: an OAuth `client_id`, a certificate URL or `SN=…,CA=…`,
    /// depending on the bank.
    pub key_id: String,
    /// The signature algorithm.
    pub algorithm: Algorithm,
    /// The signed header list as sent (lowercase, space-separated), or `None`
    /// when the parameter is absent and [`DEFAULT_SIGNED_HEADERS`] applies.
    pub headers: Option<String>,
    /// The base64 signature, as sent.
    pub signature: String,
}

impl SignatureParams {
    /// The signed header names in order, with the draft-10 default (`date`)
    /// when the `headers` parameter is absent.
    pub fn signed_headers(&self) -> impl Iterator<Item = &str> + '_ {
        self.headers
            .as_deref()
            .unwrap_or(DEFAULT_SIGNED_HEADERS)
            .split_ascii_whitespace()
    }

    /// Whether `name` (case-insensitive) is covered by the signature, so a
    /// verifier can insist that e.g. `digest` or `(request-target)` is signed.
    #[must_use]
    pub fn signs(&self, name: &str) -> bool {
        self.signed_headers().any(|n| n.eq_ignore_ascii_case(name))
    }
}

/// Formats the header value, quoting every parameter and omitting `headers`
/// when it is `None` (the draft-10 "Default Test" form).
impl fmt::Display for SignatureParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("keyId=")?;
        write_quoted(f, &self.key_id)?;
        write!(f, ",algorithm=\"{}\"", self.algorithm.as_str())?;
        if let Some(headers) = &self.headers {
            f.write_str(",headers=")?;
            write_quoted(f, headers)?;
        }
        f.write_str(",signature=")?;
        write_quoted(f, &self.signature)
    }
}

/// Writes `value` as a quoted-string, escaping `"` and `\`.
fn write_quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_str("\"")?;
    // Fast path: keyIds, header lists and base64 almost never need escaping.
    if !value.contains(['"', '\\']) {
        f.write_str(value)?;
        return f.write_str("\"");
    }
    for part in value.split_inclusive(['"', '\\']) {
        match part.char_indices().last() {
            Some((i, c @ ('"' | '\\'))) => {
                f.write_str(&part[..i])?;
                write!(f, "\\{c}")?;
            }
            _ => f.write_str(part)?,
        }
    }
    f.write_str("\"")
}

/// Parses a `Signature` header value.
///
/// Parameters are `name=value` pairs separated by commas with optional
/// whitespace; values are quoted strings (backslash escapes honoured, so a
/// keyId may contain `,`, `=` and `"`) or bare tokens (as `created=…` in
/// draft -12). Parameter names are case-insensitive. Unknown parameters are
/// ignored, as the draft requires, but no parameter may appear twice.
/// `keyId`, `algorithm` (`rsa-sha256`) and a base64 `signature` are required;
/// `headers`, when present, must not be empty and is lowercased.
pub fn parse_signature_header(value: &str) -> Result<SignatureParams, VerifyError> {
    let mut cursor = Cursor { src: value, pos: 0 };
    cursor.skip_ows();
    if cursor.at_end() {
        return Err(cursor.malformed("the header is empty"));
    }

    let mut seen: Vec<String> = Vec::new();
    let (mut key_id, mut algorithm, mut headers, mut signature) = (None, None, None, None);
    loop {
        let name = cursor
            .token()
            .ok_or_else(|| cursor.malformed("expected a parameter name"))?;
        cursor.skip_ows();
        cursor.expect('=', "expected `=` after the parameter name")?;
        cursor.skip_ows();
        let value = if cursor.peek() == Some('"') {
            cursor.quoted()?
        } else {
            cursor
                .token()
                .ok_or_else(|| cursor.malformed("expected a quoted string or a token"))?
                .to_owned()
        };

        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            return Err(VerifyError::DuplicateParameter(name.to_owned()));
        }
        match lower.as_str() {
            "keyid" => key_id = Some(value),
            "algorithm" => algorithm = Some(value),
            "headers" => headers = Some(value),
            "signature" => signature = Some(value),
            _ => {}
        }
        seen.push(lower);

        cursor.skip_ows();
        if cursor.at_end() {
            break;
        }
        cursor.expect(',', "expected `,` between parameters")?;
        cursor.skip_ows();
    }

    let key_id = key_id.ok_or(VerifyError::MissingParameter("keyId"))?;
    let algorithm = algorithm.ok_or(VerifyError::MissingParameter("algorithm"))?;
    let signature = signature.ok_or(VerifyError::MissingParameter("signature"))?;

    // Case-insensitive because some clients send `RSA-SHA256`; anything else,
    // hs2019 included, is refused rather than guessed.
    let algorithm = if algorithm.eq_ignore_ascii_case(Algorithm::RsaSha256.as_str()) {
        Algorithm::RsaSha256
    } else {
        return Err(VerifyError::UnsupportedAlgorithm(algorithm));
    };

    let headers = match headers {
        Some(list) => {
            let names: Vec<&str> = list.split_ascii_whitespace().collect();
            if names.is_empty() {
                return Err(VerifyError::EmptyHeaderList);
            }
            Some(names.join(" ").to_ascii_lowercase())
        }
        None => None,
    };

    // Decoded now only to reject garbage early with a clear error; verify()
    // decodes again, which costs nothing next to an RSA operation.
    if signature.is_empty() || STANDARD.decode(&signature).is_err() {
        return Err(VerifyError::SignatureEncoding);
    }

    Ok(SignatureParams {
        key_id,
        algorithm,
        headers,
        signature,
    })
}

/// A position in the header value being parsed.
struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn malformed(&self, reason: &'static str) -> VerifyError {
        VerifyError::Malformed {
            position: self.pos,
            reason,
        }
    }

    fn skip_ows(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches([' ', '\t']).len();
    }

    fn expect(&mut self, c: char, reason: &'static str) -> Result<(), VerifyError> {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            Ok(())
        } else {
            Err(self.malformed(reason))
        }
    }

    /// A non-empty run of `tchar`s.
    fn token(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = rest.bytes().take_while(|b| is_tchar(*b)).count();
        if len == 0 {
            return None;
        }
        self.pos += len;
        Some(&rest[..len])
    }

    /// A quoted-string starting at the opening `"`; returns it unescaped.
    fn quoted(&mut self) -> Result<String, VerifyError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        let start = self.pos;
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = start + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) if !is_forbidden_control(escaped) => out.push(escaped),
                    Some((j, _)) => {
                        self.pos = start + j;
                        return Err(self.malformed("control character in a quoted value"));
                    }
                    None => break,
                },
                c if is_forbidden_control(c) => {
                    self.pos = start + i;
                    return Err(self.malformed("control character in a quoted value"));
                }
                c => out.push(c),
            }
        }
        self.pos = self.src.len();
        Err(self.malformed("unterminated quoted value"))
    }
}

/// Controls other than HTAB are not allowed in a quoted-string.
fn is_forbidden_control(c: char) -> bool {
    c.is_ascii_control() && c != '\t'
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const SIG: &str = "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=";

    #[test]
    fn berlin_group_key_id_with_commas_and_equals_is_kept_whole() {
        let header = format!(
            "keyId=\"SN=9FA1,CA=CN=D-TRUST%20CA%202-1%202015,O=D-Trust%20GmbH,C=DE\",\
             algorithm=\"rsa-sha256\",headers=\"(request-target) date\",signature=\"{SIG}\""
        );
        let p = parse_signature_header(&header).unwrap();
        assert_eq!(
            p.key_id,
            "SN=9FA1,CA=CN=D-TRUST%20CA%202-1%202015,O=D-Trust%20GmbH,C=DE"
        );
        assert_eq!(p.algorithm, Algorithm::RsaSha256);
        assert_eq!(
            p.signed_headers().collect::<Vec<_>>(),
            ["(request-target)", "date"]
        );
        assert_eq!(p.signature, SIG);
        // Formatting gives back the same header.
        assert_eq!(p.to_string(), header);
    }

    #[test]
    fn backslash_escapes_round_trip() {
        let header = format!(r#"keyId="a\"b\\c\d",algorithm="rsa-sha256",signature="{SIG}""#);
        let p = parse_signature_header(&header).unwrap();
        assert_eq!(p.key_id, r#"a"b\cd"#);
        let again = parse_signature_header(&p.to_string()).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn headers_absent_defaults_to_date() {
        let p = parse_signature_header(&format!(
            "keyId=\"Test\",algorithm=\"rsa-sha256\",signature=\"{SIG}\""
        ))
        .unwrap();
        assert_eq!(p.headers, None);
        assert_eq!(p.signed_headers().collect::<Vec<_>>(), ["date"]);
        assert!(p.signs("Date"));
        assert!(!p.signs("digest"));
    }

    #[test]
    fn whitespace_unknown_params_and_case_are_tolerated() {
        // The draft-12 line-wrapped form, with unquoted created/expires.
        let header = format!(
            "keyId=\"Test\", algorithm=\"rsa-sha256\",\n created=1402170695, expires=1402170699,\
             \tHeaders=\"(request-target)  Host date\" , signature=\"{SIG}\""
        )
        .replace('\n', "");
        let p = parse_signature_header(&header).unwrap();
        assert_eq!(p.headers.as_deref(), Some("(request-target) host date"));
    }

    #[test]
    fn rejects_duplicates_unknown_algorithm_and_missing_parameters() {
        let dup = format!("keyId=\"a\",keyid=\"b\",algorithm=\"rsa-sha256\",signature=\"{SIG}\"");
        assert!(matches!(
            parse_signature_header(&dup),
            Err(VerifyError::DuplicateParameter(n)) if n == "keyid"
        ));
        let hs = format!("keyId=\"a\",algorithm=\"hs2019\",signature=\"{SIG}\"");
        assert!(matches!(
            parse_signature_header(&hs),
            Err(VerifyError::UnsupportedAlgorithm(a)) if a == "hs2019"
        ));
        let no_key = format!("algorithm=\"rsa-sha256\",signature=\"{SIG}\"");
        assert!(matches!(
            parse_signature_header(&no_key),
            Err(VerifyError::MissingParameter("keyId"))
        ));
        let no_alg = format!("keyId=\"a\",signature=\"{SIG}\"");
        assert!(matches!(
            parse_signature_header(&no_alg),
            Err(VerifyError::MissingParameter("algorithm"))
        ));
        let no_sig = "keyId=\"a\",algorithm=\"rsa-sha256\"";
        let err = parse_signature_header(no_sig).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Signature header has no `signature` parameter"
        );
        let empty_headers =
            format!("keyId=\"a\",algorithm=\"rsa-sha256\",headers=\" \",signature=\"{SIG}\"");
        assert!(matches!(
            parse_signature_header(&empty_headers),
            Err(VerifyError::EmptyHeaderList)
        ));
        let bad_b64 = "keyId=\"a\",algorithm=\"rsa-sha256\",signature=\"not base64!\"";
        assert!(matches!(
            parse_signature_header(bad_b64),
            Err(VerifyError::SignatureEncoding)
        ));
    }

    #[test]
    fn rejects_malformed_syntax() {
        for bad in [
            "",
            "keyId=\"unterminated",
            "keyId=\"a\" algorithm=\"rsa-sha256\"",
            "keyId=\"a\",",
            "keyId",
            "keyId=,algorithm=\"rsa-sha256\"",
            "keyId=\"a\r\nb\",algorithm=\"rsa-sha256\"",
            ",keyId=\"a\"",
            "keyId=\"a\\",
        ] {
            assert!(
                matches!(
                    parse_signature_header(bad),
                    Err(VerifyError::Malformed { .. })
                ),
                "{bad:?} should be malformed, got {:?}",
                parse_signature_header(bad)
            );
        }
        let err = parse_signature_header("keyId=\"a\" algorithm=\"x\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed Signature header at byte 10: expected `,` between parameters"
        );
    }
}
