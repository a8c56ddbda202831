//! draft-cavage-http-signatures-10 Appendix C test vectors, end to end.
//!
//! Key, request and expected values are copied from the draft (via the
//! project's reference notes) so the tests need nothing at run time. The
//! draft's key is 1024-bit although its text says 2048. RSA PKCS#1 v1.5 is
//! deterministic, so signing must reproduce the published signatures exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;

use passerelle::httpsig::*;

const PRIVATE_KEY_PEM: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
";

const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
";

// The test request: POST /foo?param=value&pet=dog with body {"hello": "world"}.
const METHOD: &str = "POST";
const PATH: &str = "/foo?param=value&pet=dog";
const BODY: &[u8] = br#"{"hello": "world"}"#;
const HEADERS: [(&str, &str); 5] = [
    ("Host", "example.com"),
    ("Date", "Sun, 05 Jan 2014 21:31:40 GMT"),
    ("Content-Type", "application/json"),
    (
        "Digest",
        "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    ),
    ("Content-Length", "18"),
];

// C.1 Default Test.
const DEFAULT_STRING: &str = "date: Sun, 05 Jan 2014 21:31:40 GMT";
const DEFAULT_HEADER: &str = "keyId=\"Test\",algorithm=\"rsa-sha256\",signature=\"SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25WqS+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM=\"";

// C.2 Basic Test.
const BASIC_NAMES: [&str; 3] = ["(request-target)", "host", "date"];
const BASIC_STRING: &str = "(request-target): post /foo?param=value&pet=dog
host: example.com
date: Sun, 05 Jan 2014 21:31:40 GMT";
const BASIC_HEADER: &str = "keyId=\"Test\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date\",signature=\"qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=\"";

// C.3 All Headers Test, in its -10 form (no (created)/(expires)).
const ALL_NAMES: [&str; 6] = [
    "(request-target)",
    "host",
    "date",
    "content-type",
    "digest",
    "content-length",
];
const ALL_STRING: &str = "(request-target): post /foo?param=value&pet=dog
host: example.com
date: Sun, 05 Jan 2014 21:31:40 GMT
content-type: application/json
digest: SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=
content-length: 18";
const ALL_HEADER: &str = "keyId=\"Test\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date content-type digest content-length\",signature=\"vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE=\"";

// Drafts up to -07 dated the request "Thu, 05 Jan 2014"; libraries still
// carry this Default vector, which must verify against its own date.
const DRAFT7_DEFAULT_HEADER: &str = "keyId=\"Test\",algorithm=\"rsa-sha256\",signature=\"jKyvPcxB4JbmYY4mByyBY7cZfNl4OW9HpFQlG7N4YcJPteKTu4MWCLyk+gIr0wDgqtLWf9NLpMAMimdfsH7FSWGfbMFSrsVTHNTk0rK3usrfFnti1dxsM4jl0kYJCKTGI/UWkqiaxwNiKqGcdlEDrTcUhhsFsOIo8VhddmZTZ8w=\"";

fn private_key() -> PKey<Private> {
    PKey::private_key_from_pem(PRIVATE_KEY_PEM.as_bytes()).unwrap()
}

fn public_key() -> PKey<Public> {
    PKey::public_key_from_pem(PUBLIC_KEY_PEM.as_bytes()).unwrap()
}

fn test_signer() -> Signer {
    Signer::new(&private_key(), "Test").unwrap()
}

fn verifying_key() -> VerifyingKey {
    VerifyingKey::from_public_key(&public_key()).unwrap()
}

fn verify_header(header: &str, method: &str, headers: &[(&str, &str)]) -> Result<(), VerifyError> {
    let params = parse_signature_header(header)?;
    verify(&params, method, PATH, headers, &verifying_key())
}

#[test]
fn test_key_is_1024_bit_and_body_digest_matches() {
    assert_eq!(private_key().bits(), 1024);
    assert_eq!(digest_header(BODY), HEADERS[3].1);
}

#[test]
fn default_test_signing_string_and_header() {
    let s = signing_string(METHOD, PATH, &HEADERS, [DEFAULT_SIGNED_HEADERS]).unwrap();
    assert_eq!(String::from_utf8(s).unwrap(), DEFAULT_STRING);
    let header = test_signer().sign(METHOD, PATH, &HEADERS, &[]).unwrap();
    assert_eq!(header, DEFAULT_HEADER);
}

#[test]
fn basic_test_signing_string_and_header() {
    let s = signing_string(METHOD, PATH, &HEADERS, BASIC_NAMES).unwrap();
    assert_eq!(String::from_utf8(s).unwrap(), BASIC_STRING);
    let header = test_signer()
        .sign(METHOD, PATH, &HEADERS, &BASIC_NAMES)
        .unwrap();
    assert_eq!(header, BASIC_HEADER);
}

#[test]
fn all_headers_test_draft_10_signing_string_and_header() {
    let s = signing_string(METHOD, PATH, &HEADERS, ALL_NAMES).unwrap();
    assert_eq!(String::from_utf8(s).unwrap(), ALL_STRING);
    let header = test_signer()
        .sign(METHOD, PATH, &HEADERS, &ALL_NAMES)
        .unwrap();
    assert_eq!(header, ALL_HEADER);
}

#[test]
fn signing_lowercases_names_in_string_and_parameter() {
    let header = test_signer()
        .sign(
            "post",
            PATH,
            &HEADERS,
            &["(Request-Target)", "Host", "DATE"],
        )
        .unwrap();
    assert_eq!(header, BASIC_HEADER);
}

#[test]
fn published_vectors_verify() {
    for header in [DEFAULT_HEADER, BASIC_HEADER, ALL_HEADER] {
        verify_header(header, METHOD, &HEADERS).unwrap();
    }
    let thursday = [("Date", "Thu, 05 Jan 2014 21:31:40 GMT")];
    verify_header(DRAFT7_DEFAULT_HEADER, METHOD, &thursday).unwrap();
}

#[test]
fn verify_with_certificate_key() {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::x509::{X509Name, X509};

    let key = private_key();
    let mut name = X509Name::builder().unwrap();
    name.append_entry_by_text("CN", "Test").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();

    let params = parse_signature_header(ALL_HEADER).unwrap();
    let vk = VerifyingKey::from_certificate(&cert).unwrap();
    verify(&params, METHOD, PATH, &HEADERS, &vk).unwrap();
}

#[test]
fn tampered_header_method_or_path_fails() {
    let mut tampered = HEADERS;
    tampered[0] = ("Host", "evil.example");
    assert!(matches!(
        verify_header(BASIC_HEADER, METHOD, &tampered),
        Err(VerifyError::SignatureMismatch)
    ));
    let mut tampered = HEADERS;
    tampered[3] = (
        "Digest",
        "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    );
    assert!(matches!(
        verify_header(ALL_HEADER, METHOD, &tampered),
        Err(VerifyError::SignatureMismatch)
    ));
    assert!(matches!(
        verify_header(BASIC_HEADER, "GET", &HEADERS),
        Err(VerifyError::SignatureMismatch)
    ));
    let params = parse_signature_header(BASIC_HEADER).unwrap();
    assert!(matches!(
        verify(
            &params,
            METHOD,
            "/foo?param=value&pet=cat",
            &HEADERS,
            &verifying_key()
        ),
        Err(VerifyError::SignatureMismatch)
    ));
}

#[test]
fn tampered_signature_fails() {
    let mut params = parse_signature_header(ALL_HEADER).unwrap();
    params.signature = params.signature.replacen('v', "w", 1);
    assert!(matches!(
        verify(&params, METHOD, PATH, &HEADERS, &verifying_key()),
        Err(VerifyError::SignatureMismatch)
    ));
}

#[test]
fn wrong_key_fails() {
    let params = parse_signature_header(ALL_HEADER).unwrap();

    let other_1024 = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
    let other_1024 = PKey::public_key_from_der(&other_1024.public_key_to_der().unwrap()).unwrap();
    let vk = VerifyingKey::from_public_key(&other_1024).unwrap();
    assert!(matches!(
        verify(&params, METHOD, PATH, &HEADERS, &vk),
        Err(VerifyError::SignatureMismatch)
    ));

    let other_2048 = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let other_2048 = PKey::public_key_from_der(&other_2048.public_key_to_der().unwrap()).unwrap();
    let vk = VerifyingKey::from_public_key(&other_2048).unwrap();
    assert!(matches!(
        verify(&params, METHOD, PATH, &HEADERS, &vk),
        Err(VerifyError::SignatureLength {
            expected: 256,
            actual: 128
        })
    ));
}

#[test]
fn missing_listed_header_is_an_error_on_both_sides() {
    let without_digest: Vec<_> = HEADERS.iter().filter(|(n, _)| *n != "Digest").collect();
    let without_digest: Vec<(&str, &str)> = without_digest.into_iter().copied().collect();
    let err = test_signer()
        .sign(METHOD, PATH, &without_digest, &ALL_NAMES)
        .unwrap_err();
    assert!(matches!(err, SignError::MissingHeader(ref n) if n == "digest"));
    assert_eq!(
        err.to_string(),
        "signed header list names `digest` but the request has no Digest header"
    );
    assert!(matches!(
        verify_header(ALL_HEADER, METHOD, &without_digest),
        Err(VerifyError::MissingHeader(n)) if n == "digest"
    ));
}

#[test]
fn stet_profile_round_trip_with_2048_bit_key() {
    // Yolt's BPCE profile: keyId is the client_id, Digest sent even on GET.
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let signer = Signer::new(&key, "PSDFR-ACPR-12345").unwrap();
    assert_eq!(signer.key_id(), "PSDFR-ACPR-12345");
    let digest = digest_header(b"");
    let headers = vec![
        (
            "Date".to_owned(),
            "Tue, 07 Jun 2022 20:51:35 GMT".to_owned(),
        ),
        ("Digest".to_owned(), digest),
        ("X-Request-ID".to_owned(), "0b5a3f2e-1c2d".to_owned()),
    ];
    let names = ["(request-target)", "date", "digest", "x-request-id"];
    let path = "/stet/psd2/v1.4.2/accounts?page=2";
    let header = signer.sign("GET", path, &headers, &names).unwrap();
    assert!(header.starts_with(
        "keyId=\"PSDFR-ACPR-12345\",algorithm=\"rsa-sha256\",\
         headers=\"(request-target) date digest x-request-id\",signature=\""
    ));

    let params = parse_signature_header(&header).unwrap();
    assert!(params.signs("digest") && params.signs("(request-target)"));
    let public = PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap();
    let vk = VerifyingKey::from_public_key(&public).unwrap();
    verify(&params, "GET", path, &headers, &vk).unwrap();
    verify_digest(&headers[1].1, b"").unwrap();
}

#[test]
fn signer_rejects_unusable_keys_and_key_ids() {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    assert!(matches!(
        Signer::new(&ec, "x"),
        Err(SignError::InvalidKey(_))
    ));

    let small = PKey::from_rsa(Rsa::generate(512).unwrap()).unwrap();
    let err = Signer::new(&small, "x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "the QSEAL private key cannot sign rsa-sha256: a 512-bit RSA key is too small (at least 1024 bits)"
    );

    assert!(matches!(
        Signer::new(&private_key(), ""),
        Err(SignError::InvalidKeyId(_))
    ));
    assert!(matches!(
        Signer::new(&private_key(), "a\r\nInjected: 1"),
        Err(SignError::InvalidKeyId(_))
    ));
}

#[test]
fn key_id_with_quotes_survives_sign_parse_verify() {
    let signer = Signer::new(&private_key(), r#"SN=01,CA=CN=A\, "B",C=FR"#).unwrap();
    let header = signer.sign(METHOD, PATH, &HEADERS, &BASIC_NAMES).unwrap();
    let params = parse_signature_header(&header).unwrap();
    assert_eq!(params.key_id, r#"SN=01,CA=CN=A\, "B",C=FR"#);
    verify(&params, METHOD, PATH, &HEADERS, &verifying_key()).unwrap();
}

#[test]
fn verifier_rejects_created_pseudo_header() {
    // The -12 form of the All Headers test: rsa-sha256 with (created) must fail.
    let header = "keyId=\"Test\",algorithm=\"rsa-sha256\",created=1402170695, expires=1402170699,headers=\"(request-target) (created) (expires) host date content-type digest content-length\",signature=\"vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE=\"";
    assert!(matches!(
        verify_header(header, METHOD, &HEADERS),
        Err(VerifyError::UnsupportedPseudoHeader(n)) if n == "(created)"
    ));
}
