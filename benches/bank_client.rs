//! Issue 4 benchmarks: signing a STET request against a bare OpenSSL RSA-2048 signature
//! (target: ratio ≤ 1.2), and parsing + normalizing a 500-transaction page (target:
//! ≥ 500,000 transactions per second on one core). Criterion measures; a summary with the
//! ratio and the throughput is printed at the end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use awc::http::Method;
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use passerelle::bank::stet::map;
use passerelle::bank::stet::request::{self, StetRequest};
use passerelle::bank::stet::wire::{self, ais::HalTransactions};
use passerelle::bank::PsuContext;
use passerelle::httpsig::Signer;
use passerelle::registry::{KeyIdFormat, SignatureProfile};
use secrecy::SecretString;
use url::Url;

const PAGE_SIZE: usize = 500;

struct SignSetup {
    key: PKey<Private>,
    signer: Signer,
    profile: SignatureProfile,
    token: SecretString,
    psu: PsuContext,
    url: Url,
}

fn sign_setup() -> SignSetup {
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let signer = Signer::new(&key, "PSDFR-ACPR-99999").unwrap();
    let profile = SignatureProfile {
        key_id: KeyIdFormat::ClientId,
        headers: ["(request-target)", "date", "digest", "x-request-id"]
            .map(String::from)
            .to_vec(),
        psu_headers: ["psu-ip-address", "psu-user-agent"]
            .map(String::from)
            .to_vec(),
        digest_on_get: true,
    };
    let psu = PsuContext {
        ip_address: "192.0.2.10".into(),
        user_agent: Some("Mozilla/5.0".into()),
        ..PsuContext::default()
    };
    SignSetup {
        key,
        signer,
        profile,
        token: SecretString::from("an-access-token".to_owned()),
        psu,
        url: Url::parse("https://bank.example/stet/psd2/v1.4.2/accounts/1751500/transactions?dateFrom=2024-01-01T00%3A00%3A00.000Z").unwrap(),
    }
}

/// The whole outbound signing step: headers, Digest, signing string, RSA, header value.
fn sign_request(s: &SignSetup) -> usize {
    let out = request::build(
        StetRequest {
            method: Method::GET,
            url: s.url.clone(),
            body: Bytes::new(),
            token: &s.token,
            psu: Some(&s.psu),
            request_id: "5b8a5a7e-8d3c-4b0e-9d8e-6f1f3c2a9b10",
            date: Utc.with_ymd_and_hms(2024, 5, 2, 10, 0, 0).unwrap(),
        },
        &s.profile,
        &s.signer,
    )
    .unwrap();
    out.headers.len()
}

/// A bare RSA-2048 PKCS#1 v1.5 SHA-256 signature of a signing string of the same size.
fn bare_rsa(key: &PKey<Private>, data: &[u8]) -> usize {
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap().len()
}

const SIGNING_STRING: &[u8] = b"(request-target): get /stet/psd2/v1.4.2/accounts/1751500/transactions?dateFrom=2024-01-01T00%3A00%3A00.000Z\ndate: Thu, 02 May 2024 10:00:00 GMT\ndigest: SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx-request-id: 5b8a5a7e-8d3c-4b0e-9d8e-6f1f3c2a9b10\npsu-ip-address: 192.0.2.10\npsu-user-agent: Mozilla/5.0";

/// A BPCE-shaped page: date-times with `+0200`, object remittance information, a third of the
/// rows `OTHR` without booking date.
fn page() -> Vec<u8> {
    let mut rows = Vec::with_capacity(PAGE_SIZE);
    for i in 0..PAGE_SIZE {
        let day = 1 + i % 28;
        let booked = i % 3 != 0;
        let booking = if booked {
            format!(r#""bookingDate":"2024-04-{day:02}T00:00:00+0200","#)
        } else {
            String::new()
        };
        rows.push(format!(
            r#"{{"resourceId":null,"entryReference":"2024040{}{:030}","transactionAmount":{{"amount":"{}.{:02}","currency":"EUR"}},"creditDebitIndicator":"{}","status":"{}",{booking}"valueDate":"2024-04-{day:02}T00:00:00+0200","transactionDate":"2024-04-{day:02}T00:00:00+0200","remittanceInformation":{{"unstructured":["CB COMMERCANT NUMERO {i}","{day:02}/04/24 PARIS"]}}}}"#,
            i % 10,
            i,
            i % 900,
            i % 100,
            if i % 4 == 0 { "CRDT" } else { "DBIT" },
            if booked { "BOOK" } else { "OTHR" },
        ));
    }
    format!(
        r#"{{"transactions":[{}],"_links":{{"self":{{"href":"/stet/psd2/v1.4.2/accounts/1/transactions","templated":null}}}}}}"#,
        rows.join(",")
    )
    .into_bytes()
}

fn parse_and_normalize(body: &[u8]) -> usize {
    let wire: HalTransactions = wire::from_slice(body).unwrap();
    map::transactions(&wire, chrono_tz::Europe::Paris)
        .unwrap()
        .len()
}

/// Mean time per call over at least `min` of wall clock.
fn mean(min: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < min {
        f();
        n += 1;
    }
    start.elapsed() / n
}

fn main() {
    let setup = sign_setup();
    let body = page();
    assert_eq!(parse_and_normalize(&body), PAGE_SIZE);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("signing");
    group.bench_function("stet_request_build_and_sign", |b| {
        b.iter(|| black_box(sign_request(&setup)))
    });
    group.bench_function("bare_openssl_rsa2048_sha256", |b| {
        b.iter(|| black_box(bare_rsa(&setup.key, SIGNING_STRING)))
    });
    group.finish();
    let mut group = c.benchmark_group("transactions_page");
    group.throughput(Throughput::Elements(PAGE_SIZE as u64));
    group.bench_function("parse_and_normalize_500", |b| {
        b.iter(|| black_box(parse_and_normalize(&body)))
    });
    group.finish();
    c.final_summary();

    // The figures the issue asks for, measured side by side in this run.
    let window = Duration::from_secs(2);
    let signed = mean(window, || {
        black_box(sign_request(&setup));
    });
    let bare = mean(window, || {
        black_box(bare_rsa(&setup.key, SIGNING_STRING));
    });
    let page_time = mean(window, || {
        black_box(parse_and_normalize(&body));
    });
    let ratio = signed.as_secs_f64() / bare.as_secs_f64();
    let tx_per_s = PAGE_SIZE as f64 / page_time.as_secs_f64();
    println!();
    println!("signing a STET request: {signed:?}; bare OpenSSL RSA-2048 sign: {bare:?}; ratio {ratio:.3} (target <= 1.2)");
    println!("parse + normalize 500-transaction page: {page_time:?} = {tx_per_s:.0} transactions/s (target >= 500000)");
}
