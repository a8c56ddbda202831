//! Tests of the development certificates: what a bank and OpenSSL see of them.
// Tests fail loudly on purpose; the crate-wide lints target production code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::qc_statement::*;
use super::*;
use std::process::Command;
use std::time::Duration;

fn generate() -> (tempfile::TempDir, DevCertPaths) {
    let dir = tempfile::tempdir().unwrap();
    let paths = generate_dev_certs(&dir.path().join("certs"), &DevCertOptions::default()).unwrap();
    (dir, paths)
}

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn generated_chain_verifies_with_openssl_cli() {
    let (_dir, paths) = generate();
    let ca = path_str(&paths.ca_cert);
    let leaves = [&paths.qwac_cert, &paths.qseal_cert, &paths.sandbox_cert];
    let mut args = vec!["verify", "-CAfile", ca];
    args.extend(leaves.iter().map(|p| path_str(p)));
    let out = openssl(&args);
    for leaf in leaves {
        assert!(out.contains(&format!("{}: OK", leaf.display())), "{out}");
    }

    // Stricter RFC 5280 checks and the purpose each certificate is meant for.
    let mut strict = vec!["verify", "-x509_strict", "-CAfile", ca];
    strict.extend(leaves.iter().map(|p| path_str(p)));
    assert_eq!(openssl(&strict).matches(": OK").count(), 3);
    let qwac = path_str(&paths.qwac_cert);
    let sandbox = path_str(&paths.sandbox_cert);
    assert!(openssl(&["verify", "-purpose", "sslclient", "-CAfile", ca, qwac]).contains(": OK"));
    assert!(openssl(&["verify", "-purpose", "sslserver", "-CAfile", ca, sandbox]).contains(": OK"));
}

#[test]
fn qwac_and_qseal_subjects_hold_the_organization_identifier() {
    let (_dir, paths) = generate();
    for (cert, cn) in [
        (&paths.qseal_cert, "passerelle-dev-qseal"),
        (&paths.qwac_cert, "passerelle-dev-qwac"),
    ] {
        let subject = openssl(&["x509", "-noout", "-subject", "-in", path_str(cert)]);
        assert!(subject.contains("PSDFR-ACPR-99999"), "{subject}");
        assert!(subject.contains("O = Passerelle Dev TPP"), "{subject}");
        assert!(subject.contains("C = FR"), "{subject}");
        assert!(subject.contains(&format!("CN = {cn}")), "{subject}");

        let x509 = X509::from_pem(&fs::read(cert).unwrap()).unwrap();
        assert_eq!(
            organization_identifier(&x509).as_deref(),
            Some("PSDFR-ACPR-99999")
        );
    }
    let sandbox = X509::from_pem(&fs::read(&paths.sandbox_cert).unwrap()).unwrap();
    assert_eq!(organization_identifier(&sandbox), None);
}

#[test]
fn certificates_have_the_expected_extensions() {
    let (_dir, paths) = generate();
    let text = |p: &Path| openssl(&["x509", "-noout", "-text", "-in", path_str(p)]);

    let ca = text(&paths.ca_cert);
    assert!(ca.contains("X509v3 Basic Constraints: critical"), "{ca}");
    assert!(ca.contains("CA:TRUE"), "{ca}");
    assert!(ca.contains("Certificate Sign, CRL Sign"), "{ca}");
    assert!(ca.contains("X509v3 Subject Key Identifier"), "{ca}");
    assert!(ca.contains("Public-Key: (2048 bit)"), "{ca}");
    assert!(ca.contains("sha256WithRSAEncryption"), "{ca}");

    let qwac = text(&paths.qwac_cert);
    assert!(qwac.contains("TLS Web Client Authentication"), "{qwac}");
    assert!(qwac.contains("Digital Signature"), "{qwac}");
    assert!(!qwac.contains("Non Repudiation"), "{qwac}");

    let qseal = text(&paths.qseal_cert);
    assert!(
        qseal.contains("Digital Signature, Non Repudiation"),
        "{qseal}"
    );
    assert!(!qseal.contains("Extended Key Usage"), "{qseal}");

    let sandbox = text(&paths.sandbox_cert);
    assert!(
        sandbox.contains("TLS Web Server Authentication"),
        "{sandbox}"
    );
    assert!(
        sandbox.contains("DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"),
        "{sandbox}"
    );
}

#[test]
fn serials_are_random_positive_128_bit() {
    let (_dir, paths) = generate();
    let mut serials = Vec::new();
    for cert in [
        &paths.ca_cert,
        &paths.qwac_cert,
        &paths.qseal_cert,
        &paths.sandbox_cert,
    ] {
        let x509 = X509::from_pem(&fs::read(cert).unwrap()).unwrap();
        let serial = x509.serial_number().to_bn().unwrap();
        assert!(!serial.is_negative());
        assert_eq!(serial.num_bits(), 128);
        serials.push(serial.to_hex_str().unwrap().to_string());
    }
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 4);
}

#[test]
fn validity_periods() {
    let (_dir, paths) = generate();
    let days_left = |p: &Path| {
        let x509 = X509::from_pem(&fs::read(p).unwrap()).unwrap();
        Asn1Time::days_from_now(0)
            .unwrap()
            .diff(x509.not_after())
            .unwrap()
            .days
    };
    assert!((1825..=1827).contains(&days_left(&paths.ca_cert)));
    assert!((730..=731).contains(&days_left(&paths.qwac_cert)));
}

#[test]
fn qc_statement_parses_with_openssl() {
    let (_dir, paths) = generate();
    for (cert, qct) in [
        (&paths.qwac_cert, "0.4.0.1862.1.6.3"),
        (&paths.qseal_cert, "0.4.0.1862.1.6.2"),
    ] {
        let outer = openssl(&["asn1parse", "-in", path_str(cert)]);
        let lines: Vec<&str> = outer.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(":qcStatements"))
            .unwrap();
        let offset = lines[at + 1].split(':').next().unwrap().trim();
        let inner = openssl(&["asn1parse", "-in", path_str(cert), "-strparse", offset]);
        for expected in [
            "0.4.0.19495.2",
            "0.4.0.19495.1.3",
            ":PSP_AI",
            "0.4.0.19495.1.2",
            ":PSP_PI",
            ":ACPR",
            ":FR-ACPR",
            qct,
        ] {
            assert!(inner.contains(expected), "{expected} missing from\n{inner}");
        }
    }
    let sandbox = openssl(&["asn1parse", "-in", path_str(&paths.sandbox_cert)]);
    assert!(!sandbox.contains("qcStatements"));
}

#[cfg(unix)]
#[test]
fn key_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_dir, paths) = generate();
    for key in [
        &paths.ca_key,
        &paths.qwac_key,
        &paths.qseal_key,
        &paths.sandbox_key,
    ] {
        let mode = fs::metadata(key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", key.display());
    }
    let dir = paths.ca_cert.parent().unwrap();
    assert_eq!(
        fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn ensure_generates_once_then_keeps_existing_files() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    assert!(!dev_certs_present(&certs));
    let paths = ensure_dev_certs(&certs, &DevCertOptions::default()).unwrap();
    assert!(dev_certs_present(&certs));

    let snapshot = |paths: &DevCertPaths| {
        paths
            .all()
            .iter()
            .map(|p| {
                (
                    fs::read(p).unwrap(),
                    fs::metadata(p).unwrap().modified().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let before = snapshot(&paths);
    std::thread::sleep(Duration::from_millis(20));
    let again = ensure_dev_certs(&certs, &DevCertOptions::default()).unwrap();
    assert_eq!(again, paths);
    assert_eq!(snapshot(&again), before);
}

#[test]
fn ensure_reissues_a_missing_leaf_with_the_existing_ca() {
    let (_dir, paths) = generate();
    let ca_before = fs::read(&paths.ca_cert).unwrap();
    let qwac_before = fs::read(&paths.qwac_cert).unwrap();
    let qseal_before = fs::read(&paths.qseal_cert).unwrap();
    fs::remove_file(&paths.qseal_key).unwrap();

    let dir = paths.ca_cert.parent().unwrap();
    ensure_dev_certs(dir, &DevCertOptions::default()).unwrap();
    assert!(dev_certs_present(dir));
    assert_eq!(fs::read(&paths.ca_cert).unwrap(), ca_before);
    assert_eq!(fs::read(&paths.qwac_cert).unwrap(), qwac_before);
    assert_ne!(fs::read(&paths.qseal_cert).unwrap(), qseal_before);
    let out = openssl(&[
        "verify",
        "-CAfile",
        path_str(&paths.ca_cert),
        path_str(&paths.qseal_cert),
    ]);
    assert!(out.contains(": OK"), "{out}");
    // The new key belongs to the new certificate.
    Identity::from_pem_files(&paths.qseal_cert, &paths.qseal_key).unwrap();
}

#[test]
fn ensure_regenerates_everything_without_the_ca_key() {
    let (_dir, paths) = generate();
    let qwac_before = fs::read(&paths.qwac_cert).unwrap();
    fs::remove_file(&paths.ca_key).unwrap();
    let dir = paths.ca_cert.parent().unwrap();
    ensure_dev_certs(dir, &DevCertOptions::default()).unwrap();
    assert!(dev_certs_present(dir));
    assert_ne!(fs::read(&paths.qwac_cert).unwrap(), qwac_before);
}

#[test]
fn custom_options_are_used() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DevCertOptions {
        organization_identifier: "PSDBE-NBB-0123.456.789".to_owned(),
        sandbox_hosts: vec!["sandbox.test".to_owned(), "10.0.0.7".to_owned()],
    };
    let paths = generate_dev_certs(dir.path(), &opts).unwrap();
    let qwac = X509::from_pem(&fs::read(&paths.qwac_cert).unwrap()).unwrap();
    assert_eq!(
        organization_identifier(&qwac).as_deref(),
        Some("PSDBE-NBB-0123.456.789")
    );
    let subject = openssl(&[
        "x509",
        "-noout",
        "-subject",
        "-in",
        path_str(&paths.qwac_cert),
    ]);
    assert!(subject.contains("C = BE"), "{subject}");
    let sandbox = openssl(&[
        "x509",
        "-noout",
        "-text",
        "-in",
        path_str(&paths.sandbox_cert),
    ]);
    assert!(
        sandbox.contains("DNS:sandbox.test, IP Address:10.0.0.7"),
        "{sandbox}"
    );
}

#[test]
fn invalid_options_are_rejected_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    for bad in [
        "",
        "ACPR-99999",
        "PSDFR-ACPR-",
        "PSDfr-ACPR-1",
        "PSDFR-A-1",
        "PSDFR-ACPR-1 2",
    ] {
        let opts = DevCertOptions {
            organization_identifier: bad.to_owned(),
            ..DevCertOptions::default()
        };
        let err = generate_dev_certs(&out, &opts).unwrap_err();
        assert!(
            matches!(err, CertError::InvalidOrganizationIdentifier { ref value } if value == bad),
            "{err}"
        );
    }
    for (hosts, is_empty) in [(vec![], true), (vec!["not a host".to_owned()], false)] {
        let opts = DevCertOptions {
            sandbox_hosts: hosts,
            ..DevCertOptions::default()
        };
        let err = generate_dev_certs(&out, &opts).unwrap_err();
        if is_empty {
            assert!(matches!(err, CertError::NoSandboxHost), "{err}");
        } else {
            assert!(matches!(err, CertError::InvalidSandboxHost { .. }), "{err}");
            assert!(err.to_string().contains("not a host"));
        }
    }
    assert!(!out.exists());
}

#[test]
fn der_encodings() {
    assert_eq!(der::oid(&[2, 5, 4, 97]), [0x06, 0x03, 0x55, 0x04, 0x61]);
    assert_eq!(
        der::oid(&[0, 4, 0, 19495, 2]),
        [0x06, 0x06, 0x04, 0x00, 0x81, 0x98, 0x27, 0x02]
    );
    assert_eq!(
        der::oid(&[1, 3, 6, 1, 5, 5, 7, 1, 3]),
        [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x03]
    );
    assert_eq!(der::utf8_string("ab"), [0x0c, 0x02, b'a', b'b']);
    let long = der::tlv(0x04, &[0u8; 200]);
    assert_eq!(&long[..3], &[0x04, 0x81, 200]);
    let longer = der::tlv(0x04, &[0u8; 300]);
    assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    assert_eq!(longer.len(), 304);
}

#[test]
fn mutual_tls_handshake_with_the_generated_certificates() {
    use crate::tls::identity::load_ca_bundle;
    use openssl::ssl::{SslAcceptor, SslConnector, SslMethod, SslVerifyMode};
    use openssl::x509::store::X509StoreBuilder;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    let (_dir, paths) = generate();
    let server_identity =
        Identity::from_pem_files(&paths.sandbox_cert, &paths.sandbox_key).unwrap();
    let ca = load_ca_bundle(&paths.ca_cert).unwrap();

    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
    acceptor.set_certificate(&server_identity.cert).unwrap();
    acceptor.set_private_key(&server_identity.key).unwrap();
    let mut store = X509StoreBuilder::new().unwrap();
    for cert in &ca {
        store.add_cert(cert.clone()).unwrap();
        acceptor.add_client_ca(cert).unwrap();
    }
    acceptor.set_verify_cert_store(store.build()).unwrap();
    acceptor.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT);
    let acceptor = acceptor.build();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Each connection yields the client's organisation identifier, or the handshake error.
    let server = std::thread::spawn(move || {
        let mut results = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            results.push(match acceptor.accept(stream) {
                Ok(mut tls) => {
                    let org_id = tls
                        .ssl()
                        .peer_certificate()
                        .and_then(|cert| organization_identifier(&cert));
                    tls.write_all(b"hello").unwrap();
                    tls.shutdown().ok();
                    Ok(org_id)
                }
                Err(error) => Err(error.to_string()),
            });
        }
        results
    });

    let client = |with_qwac: bool| {
        let mut connector = SslConnector::builder(SslMethod::tls()).unwrap();
        connector.set_ca_file(&paths.ca_cert).unwrap();
        if with_qwac {
            let qwac = Identity::from_pem_files(&paths.qwac_cert, &paths.qwac_key).unwrap();
            connector.set_certificate(&qwac.cert).unwrap();
            connector.set_private_key(&qwac.key).unwrap();
        }
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // With TLS 1.3 the server checks the client certificate after the client considers
        // the handshake done, so a refusal may only surface on the first read.
        let mut tls = connector
            .build()
            .connect("localhost", stream)
            .map_err(|e| e.to_string())?;
        let mut received = Vec::new();
        tls.read_to_end(&mut received).map_err(|e| e.to_string())?;
        Ok::<_, String>(received)
    };

    assert_eq!(client(true).unwrap(), b"hello");
    assert!(client(false).is_err());

    let results = server.join().unwrap();
    assert_eq!(results[0], Ok(Some("PSDFR-ACPR-99999".to_owned())));
    assert!(results[1].is_err(), "{:?}", results[1]);
}
