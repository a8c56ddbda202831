//! Loading certificates and private keys from PEM files.
//!
//! An [`Identity`] is what Passerelle presents to others: the QWAC for mutual TLS with banks, the
//! QSEAL for signing, or the sandbox bank's server certificate. Loading checks up front what would
//! otherwise fail later and obscurely (inside a TLS handshake, or as a bank's 401): that the key
//! belongs to the certificate and that the certificate is currently valid.

use std::cmp::Ordering;
use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509Ref, X509};

use super::certs::{openssl_error, CertError};

/// A certificate, the intermediate certificates to send with it, and its private key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The end-entity certificate (the first one in the certificate file).
    pub cert: X509,
    /// Intermediate certificates that followed it in the file, in order; sent along in TLS so
    /// peers that only trust the root can build the path.
    pub chain: Vec<X509>,
    /// The private key matching `cert`.
    pub key: PKey<Private>,
}

impl Identity {
    /// Loads a certificate file (leaf first, optionally followed by its chain) and an unencrypted
    /// PEM private key (PKCS#8 or traditional), checking that they match and that the certificate
    /// is valid now.
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<Self, CertError> {
        let cert_path = cert_path.as_ref();
        let key_path = key_path.as_ref();

        let mut certs = read_certificates(cert_path)?.into_iter();
        let Some(cert) = certs.next() else {
            return Err(CertError::NoCertificate {
                path: cert_path.to_path_buf(),
            });
        };
        let chain = certs.collect();
        let key = read_private_key(key_path)?;

        let public_key = cert.public_key().map_err(|error| CertError::Parse {
            what: "certificate public key in",
            path: cert_path.to_path_buf(),
            error,
        })?;
        if !public_key.public_eq(&key) {
            return Err(CertError::KeyMismatch {
                cert_path: cert_path.to_path_buf(),
                key_path: key_path.to_path_buf(),
            });
        }
        check_currently_valid(&cert, cert_path)?;
        Ok(Self { cert, chain, key })
    }
}

/// Loads every certificate of a PEM bundle, e.g. the CA certificates trusted for a bank's server
/// or for clients of the sandbox. An empty bundle is an error, since trusting nothing is never
/// what was meant.
pub fn load_ca_bundle(path: impl AsRef<Path>) -> Result<Vec<X509>, CertError> {
    let path = path.as_ref();
    let certs = read_certificates(path)?;
    if certs.is_empty() {
        return Err(CertError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// Fails with [`CertError::Expired`] or [`CertError::NotYetValid`] unless `cert` is valid now;
/// `path` is only used in the error.
pub fn check_currently_valid(cert: &X509Ref, path: &Path) -> Result<(), CertError> {
    let now = Asn1Time::days_from_now(0).map_err(openssl_error("read the current time"))?;
    let compare_error = openssl_error("compare certificate validity dates");
    if cert.not_after().compare(&now).map_err(compare_error)? == Ordering::Less {
        return Err(CertError::Expired {
            path: path.to_path_buf(),
            not_after: to_utc(cert.not_after())?,
        });
    }
    let compare_error = openssl_error("compare certificate validity dates");
    if cert.not_before().compare(&now).map_err(compare_error)? == Ordering::Greater {
        return Err(CertError::NotYetValid {
            path: path.to_path_buf(),
            not_before: to_utc(cert.not_before())?,
        });
    }
    Ok(())
}

/// Converts an ASN.1 time to chrono, by its distance from the Unix epoch.
fn to_utc(time: &Asn1TimeRef) -> Result<DateTime<Utc>, CertError> {
    let err = || openssl_error("read a certificate validity date");
    let epoch = Asn1Time::from_unix(0).map_err(err())?;
    let diff = epoch.diff(time).map_err(err())?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    // ASN.1 times span years 0000–9999, all inside chrono's range, so the fallback is unreachable.
    Ok(DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::<Utc>::MIN_UTC))
}

fn read_certificates(path: &Path) -> Result<Vec<X509>, CertError> {
    let pem = fs::read(path).map_err(|error| CertError::Read {
        what: "certificate",
        path: path.to_path_buf(),
        error,
    })?;
    X509::stack_from_pem(&pem).map_err(|error| CertError::Parse {
        what: "certificate",
        path: path.to_path_buf(),
        error,
    })
}

fn read_private_key(path: &Path) -> Result<PKey<Private>, CertError> {
    let pem = fs::read(path).map_err(|error| CertError::Read {
        what: "private key",
        path: path.to_path_buf(),
        error,
    })?;
    // Both PKCS#8 (`BEGIN ENCRYPTED PRIVATE KEY`) and traditional (`Proc-Type: 4,ENCRYPTED`)
    // encrypted PEM say so in the text; name the problem rather than report a decryption failure.
    if pem.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED") {
        return Err(CertError::EncryptedKey {
            path: path.to_path_buf(),
        });
    }
    // An explicit callback that supplies no passphrase: OpenSSL's default one would prompt on the
    // terminal, which must never happen in a service.
    PKey::private_key_from_pem_callback(&pem, |_| Ok(0)).map_err(|error| CertError::Parse {
        what: "private key",
        path: path.to_path_buf(),
        error,
    })
}

#[cfg(test)]
// Tests fail loudly on purpose; the crate-wide lints target production code.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::tls::certs::{
        generate_dev_certs, issue_leaf, organization_identifier, DevCertOptions, DevCertPaths,
        LeafKind, Validity,
    };
    use chrono::Duration;
    use openssl::symm::Cipher;
    use std::path::PathBuf;

    fn generate() -> (tempfile::TempDir, DevCertPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = generate_dev_certs(dir.path(), &DevCertOptions::default()).unwrap();
        (dir, paths)
    }

    /// A QWAC issued by the generated CA with the given validity, written next to the others.
    fn write_qwac(paths: &DevCertPaths, name: &str, validity: &Validity) -> (PathBuf, PathBuf) {
        let ca = Identity::from_pem_files(&paths.ca_cert, &paths.ca_key).unwrap();
        let leaf = issue_leaf(&ca, LeafKind::Qwac, &DevCertOptions::default(), validity).unwrap();
        let dir = paths.ca_cert.parent().unwrap();
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}.key"));
        fs::write(&cert_path, leaf.cert.to_pem().unwrap()).unwrap();
        fs::write(&key_path, leaf.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        (cert_path, key_path)
    }

    #[test]
    fn loads_a_matching_pair() {
        let (_dir, paths) = generate();
        let qwac = Identity::from_pem_files(&paths.qwac_cert, &paths.qwac_key).unwrap();
        assert_eq!(
            organization_identifier(&qwac.cert).as_deref(),
            Some("PSDFR-ACPR-99999")
        );
        assert!(qwac.chain.is_empty());
        assert!(qwac.cert.public_key().unwrap().public_eq(&qwac.key));
    }

    #[test]
    fn certificates_after_the_first_form_the_chain() {
        let (dir, paths) = generate();
        let bundle = dir.path().join("qwac-chain.pem");
        let mut pem = fs::read(&paths.qwac_cert).unwrap();
        pem.extend(fs::read(&paths.ca_cert).unwrap());
        fs::write(&bundle, pem).unwrap();

        let qwac = Identity::from_pem_files(&bundle, &paths.qwac_key).unwrap();
        assert_eq!(qwac.chain.len(), 1);
        assert_eq!(
            qwac.chain[0].to_der().unwrap(),
            load_ca_bundle(&paths.ca_cert).unwrap()[0].to_der().unwrap()
        );
    }

    #[test]
    fn rejects_a_key_of_another_certificate() {
        let (_dir, paths) = generate();
        let err = Identity::from_pem_files(&paths.qwac_cert, &paths.qseal_key).unwrap_err();
        assert!(matches!(err, CertError::KeyMismatch { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&paths.qwac_cert.display().to_string()),
            "{message}"
        );
        assert!(
            message.contains(&paths.qseal_key.display().to_string()),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_missing_file() {
        let (dir, paths) = generate();
        let missing = dir.path().join("nope/qwac.pem");
        let err = Identity::from_pem_files(&missing, &paths.qwac_key).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("cannot read certificate {}: ", missing.display())),
            "{message}"
        );
        assert!(message.contains("No such file or directory"), "{message}");

        let missing_key = dir.path().join("qwac-missing.key");
        let err = Identity::from_pem_files(&paths.qwac_cert, &missing_key).unwrap_err();
        assert!(
            err.to_string().starts_with(&format!(
                "cannot read private key {}: ",
                missing_key.display()
            )),
            "{err}"
        );

        let err = load_ca_bundle(&missing).unwrap_err();
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn rejects_files_without_pem_content() {
        let (dir, paths) = generate();
        let garbage = dir.path().join("garbage.pem");
        fs::write(&garbage, "not a certificate\n").unwrap();

        let err = Identity::from_pem_files(&garbage, &paths.qwac_key).unwrap_err();
        assert!(
            matches!(err, CertError::NoCertificate { ref path } if *path == garbage)
                || matches!(err, CertError::Parse { ref path, .. } if *path == garbage),
            "{err}"
        );
        assert!(load_ca_bundle(&garbage).is_err());

        let err = Identity::from_pem_files(&paths.qwac_cert, &garbage).unwrap_err();
        assert!(
            matches!(err, CertError::Parse { what: "private key", ref path, .. } if *path == garbage),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_encrypted_key_without_prompting() {
        let (dir, paths) = generate();
        let qwac = Identity::from_pem_files(&paths.qwac_cert, &paths.qwac_key).unwrap();
        let encrypted = dir.path().join("encrypted.key");
        let pem = qwac
            .key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret")
            .unwrap();
        fs::write(&encrypted, pem).unwrap();
        let err = Identity::from_pem_files(&paths.qwac_cert, &encrypted).unwrap_err();
        assert!(
            matches!(err, CertError::EncryptedKey { ref path } if *path == encrypted),
            "{err}"
        );
    }

    #[test]
    fn rejects_an_expired_certificate() {
        let (_dir, paths) = generate();
        let now = Utc::now();
        let validity =
            Validity::between(now - Duration::days(30), now - Duration::days(1)).unwrap();
        let (cert_path, key_path) = write_qwac(&paths, "expired", &validity);

        let err = Identity::from_pem_files(&cert_path, &key_path).unwrap_err();
        match &err {
            CertError::Expired { path, not_after } => {
                assert_eq!(path, &cert_path);
                let expected = now - Duration::days(1);
                assert!(
                    (*not_after - expected).num_seconds().abs() <= 1,
                    "{not_after}"
                );
            }
            other => panic!("expected Expired, got {other}"),
        }
        assert!(err.to_string().contains("expired"), "{err}");
    }

    #[test]
    fn rejects_a_certificate_not_yet_valid() {
        let (_dir, paths) = generate();
        let now = Utc::now();
        let validity =
            Validity::between(now + Duration::days(1), now + Duration::days(30)).unwrap();
        let (cert_path, key_path) = write_qwac(&paths, "future", &validity);
        let err = Identity::from_pem_files(&cert_path, &key_path).unwrap_err();
        assert!(
            matches!(err, CertError::NotYetValid { ref path, .. } if *path == cert_path),
            "{err}"
        );
    }

    #[test]
    fn loads_a_ca_bundle() {
        let (dir, paths) = generate();
        assert_eq!(load_ca_bundle(&paths.ca_cert).unwrap().len(), 1);

        let bundle = dir.path().join("bundle.pem");
        let mut pem = fs::read(&paths.ca_cert).unwrap();
        pem.extend(fs::read(&paths.sandbox_cert).unwrap());
        fs::write(&bundle, pem).unwrap();
        assert_eq!(load_ca_bundle(&bundle).unwrap().len(), 2);

        let empty = dir.path().join("empty.pem");
        fs::write(&empty, "").unwrap();
        let err = load_ca_bundle(&empty).unwrap_err();
        assert!(
            matches!(err, CertError::NoCertificate { ref path } if *path == empty),
            "{err}"
        );
    }
}
