//! Development certificates: a local test CA and the three certificates it issues.
//!
//! Real deployments use a QWAC and a QSEAL bought from a qualified trust service provider (QTSP).
//! For demos, tests and the built-in sandbox bank, Passerelle generates a look-alike set instead:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem`, `ca.key` | the local test CA (kept so that more certificates can be issued later) |
//! | `qwac.pem`, `qwac.key` | QWAC: TLS client certificate presented to banks (mutual TLS) |
//! | `qseal.pem`, `qseal.key` | QSEAL: certificate whose key signs requests (HTTP signatures) |
//! | `sandbox.pem`, `sandbox.key` | TLS server certificate of the sandbox bank |
//!
//! The QWAC and QSEAL carry the PSD2 organisation identifier (`organizationIdentifier`, OID
//! 2.5.4.97, e.g. `PSDFR-ACPR-99999`) in their subject and the ETSI TS 119 495 PSD2 QCStatement
//! (roles PSP_AI and PSP_PI, NCA name and id), as a bank would see in production certificates.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Months, Utc};
use openssl::asn1::{Asn1Integer, Asn1Object, Asn1ObjectRef, Asn1OctetString, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{
    X509Builder, X509Extension, X509Name, X509NameBuilder, X509NameRef, X509Ref, X509v3Context,
    X509,
};

use super::identity::Identity;
pub(crate) use error::openssl_error;
pub use error::CertError;
use files::{create_private_dir, write_identity};
use qc_statement::{qc_statements, Psd2OrganizationId, QcType};

mod error;
mod files;
mod qc_statement;

/// Organisation identifier used when none is configured: France, ACPR, a made-up authorisation
/// number that no real PSP holds.
pub const DEFAULT_ORGANIZATION_IDENTIFIER: &str = "PSDFR-ACPR-99999";

/// `organizationIdentifier` attribute type (X.520), which ETSI EN 319 412-1 uses for the PSD2
/// authorisation number.
const ORGANIZATION_IDENTIFIER_OID: &str = "2.5.4.97";

/// `id-pe-qcStatements` (RFC 3739).
const QC_STATEMENTS_OID: &str = "1.3.6.1.5.5.7.1.3";

/// RSA key size for every generated key; 2048 bits is what QTSPs issue and banks accept.
const RSA_BITS: u32 = 2048;

/// The test CA lives long enough that a developer checkout never sees it expire mid-project.
const CA_VALIDITY_MONTHS: u32 = 60;

/// Leaf certificates: two years, like commercial QWACs and QSEALs.
const LEAF_VALIDITY_MONTHS: u32 = 24;

/// Leaves are back-dated slightly so that a peer whose clock runs a little behind still accepts a
/// certificate generated a moment ago.
const CLOCK_SKEW_ALLOWANCE: chrono::Duration = chrono::Duration::hours(1);

/// What to put in the development certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertOptions {
    /// PSD2 organisation identifier of the TPP, `PSD<country>-<NCA>-<authorisation number>`
    /// (ETSI TS 119 495 §5.2.1), written into the QWAC and QSEAL subjects.
    pub organization_identifier: String,
    /// DNS names and IP addresses the sandbox bank's server certificate is valid for.
    pub sandbox_hosts: Vec<String>,
}

impl Default for DevCertOptions {
    fn default() -> Self {
        Self {
            organization_identifier: DEFAULT_ORGANIZATION_IDENTIFIER.to_owned(),
            sandbox_hosts: vec![
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ],
        }
    }
}

/// Where the development certificates and keys live inside their directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevCertPaths {
    /// Test CA certificate (`ca.pem`): the trust root for the QWAC, QSEAL and sandbox certificates.
    pub ca_cert: PathBuf,
    /// Test CA private key (`ca.key`).
    pub ca_key: PathBuf,
    /// QWAC client certificate (`qwac.pem`).
    pub qwac_cert: PathBuf,
    /// QWAC private key (`qwac.key`).
    pub qwac_key: PathBuf,
    /// QSEAL signing certificate (`qseal.pem`).
    pub qseal_cert: PathBuf,
    /// QSEAL private key (`qseal.key`).
    pub qseal_key: PathBuf,
    /// Sandbox bank TLS server certificate (`sandbox.pem`).
    pub sandbox_cert: PathBuf,
    /// Sandbox bank TLS server private key (`sandbox.key`).
    pub sandbox_key: PathBuf,
}

impl DevCertPaths {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.pem"),
            ca_key: dir.join("ca.key"),
            qwac_cert: dir.join("qwac.pem"),
            qwac_key: dir.join("qwac.key"),
            qseal_cert: dir.join("qseal.pem"),
            qseal_key: dir.join("qseal.key"),
            sandbox_cert: dir.join("sandbox.pem"),
            sandbox_key: dir.join("sandbox.key"),
        }
    }

    /// Every file, certificates and keys.
    pub fn all(&self) -> [&Path; 8] {
        [
            &self.ca_cert,
            &self.ca_key,
            &self.qwac_cert,
            &self.qwac_key,
            &self.qseal_cert,
            &self.qseal_key,
            &self.sandbox_cert,
            &self.sandbox_key,
        ]
    }

    /// Certificate and key paths of one leaf.
    fn leaf(&self, kind: LeafKind) -> (&Path, &Path) {
        match kind {
            LeafKind::Qwac => (&self.qwac_cert, &self.qwac_key),
            LeafKind::Qseal => (&self.qseal_cert, &self.qseal_key),
            LeafKind::Sandbox => (&self.sandbox_cert, &self.sandbox_key),
        }
    }
}

/// Whether every development certificate and key file exists in `dir`.
pub fn dev_certs_present(dir: &Path) -> bool {
    DevCertPaths::in_dir(dir)
        .all()
        .iter()
        .all(|path| path.is_file())
}

/// Generates a fresh test CA and the QWAC, QSEAL and sandbox certificates into `out_dir`
/// (created if needed), replacing any files already there.
///
/// Everything is generated in memory before anything is written, so invalid options leave the
/// directory untouched. Key files are written with mode 0600 on unix.
pub fn generate_dev_certs(
    out_dir: &Path,
    opts: &DevCertOptions,
) -> Result<DevCertPaths, CertError> {
    let ca = issue_ca(&Validity::months_from_now(CA_VALIDITY_MONTHS)?)?;
    let leaf_validity = Validity::months_from_now(LEAF_VALIDITY_MONTHS)?;
    let mut leaves = Vec::with_capacity(LeafKind::ALL.len());
    for kind in LeafKind::ALL {
        leaves.push((kind, issue_leaf(&ca, kind, opts, &leaf_validity)?));
    }

    let paths = DevCertPaths::in_dir(out_dir);
    create_private_dir(out_dir)?;
    for (kind, leaf) in &leaves {
        let (cert_path, key_path) = paths.leaf(*kind);
        write_identity(leaf, cert_path, key_path)?;
    }
    // The CA goes last: if writing stops half-way, `ca.pem` is missing and the next
    // `ensure_dev_certs` regenerates the whole set instead of trusting a mixed one.
    write_identity(&ca, &paths.ca_cert, &paths.ca_key)?;
    Ok(paths)
}

/// Returns the development certificates in `dir`, generating what is missing (used on the first
/// `serve`).
///
/// Existing files are never rewritten, even when `opts` differ from what they were generated with:
/// delete the directory or call [`generate_dev_certs`] to start over. When the CA is present but a
/// leaf certificate or key is missing, only that leaf is reissued, by the existing CA, so anything
/// already trusting `ca.pem` keeps working.
pub fn ensure_dev_certs(dir: &Path, opts: &DevCertOptions) -> Result<DevCertPaths, CertError> {
    let paths = DevCertPaths::in_dir(dir);
    if dev_certs_present(dir) {
        return Ok(paths);
    }
    if !(paths.ca_cert.is_file() && paths.ca_key.is_file()) {
        return generate_dev_certs(dir, opts);
    }

    let ca = Identity::from_pem_files(&paths.ca_cert, &paths.ca_key)?;
    let leaf_validity = Validity::months_from_now(LEAF_VALIDITY_MONTHS)?;
    for kind in LeafKind::ALL {
        let (cert_path, key_path) = paths.leaf(kind);
        if !(cert_path.is_file() && key_path.is_file()) {
            let leaf = issue_leaf(&ca, kind, opts, &leaf_validity)?;
            write_identity(&leaf, cert_path, key_path)?;
        }
    }
    Ok(paths)
}

/// The subject's `organizationIdentifier` (OID 2.5.4.97), e.g. `PSDFR-ACPR-99999`, if present.
///
/// The sandbox bank compares it with the OAuth `client_id` to check that a TPP uses its own QWAC.
pub fn organization_identifier(cert: &X509Ref) -> Option<String> {
    let entry = cert
        .subject_name()
        .entries()
        .find(|entry| is_organization_identifier(entry.object()))?;
    entry.data().to_string().ok()
}

/// Whether an attribute type is `organizationIdentifier`.
fn is_organization_identifier(object: &Asn1ObjectRef) -> bool {
    match Asn1Object::from_str(ORGANIZATION_IDENTIFIER_OID) {
        Ok(known) if known.nid() != Nid::UNDEF => object.nid() == known.nid(),
        // OpenSSL before 1.1.1 has no name for 2.5.4.97 and prints it as the dotted OID.
        _ => object.to_string() == ORGANIZATION_IDENTIFIER_OID,
    }
}

/// The certificates the test CA issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    /// TLS client certificate for mutual TLS with banks.
    Qwac,
    /// Signing certificate for HTTP signatures.
    Qseal,
    /// TLS server certificate of the sandbox bank.
    Sandbox,
}

impl LeafKind {
    const ALL: [LeafKind; 3] = [LeafKind::Qwac, LeafKind::Qseal, LeafKind::Sandbox];
}

/// A certificate validity period.
pub(crate) struct Validity {
    not_before: Asn1Time,
    not_after: Asn1Time,
}

impl Validity {
    /// From a little before now (see [`CLOCK_SKEW_ALLOWANCE`]) to `months` from now.
    fn months_from_now(months: u32) -> Result<Self, CertError> {
        let now = Utc::now();
        let not_after = now
            .checked_add_months(Months::new(months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Self::between(now - CLOCK_SKEW_ALLOWANCE, not_after)
    }

    /// An explicit period; tests use it to make expired and not-yet-valid certificates.
    pub(crate) fn between(
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<Self, CertError> {
        Ok(Self {
            not_before: asn1_time(not_before)?,
            not_after: asn1_time(not_after)?,
        })
    }
}

/// Converts to the UTCTime/GeneralizedTime choice RFC 5280 prescribes for the year.
fn asn1_time(time: DateTime<Utc>) -> Result<Asn1Time, CertError> {
    Asn1Time::from_str_x509(&time.format("%Y%m%d%H%M%SZ").to_string())
        .map_err(openssl_error("encode a certificate validity date"))
}

/// Creates the self-signed test CA.
fn issue_ca(validity: &Validity) -> Result<Identity, CertError> {
    let key = new_rsa_key()?;
    let name = build_name(&[
        ("C", "FR"),
        ("O", "Passerelle Dev"),
        ("CN", "Passerelle Dev Test CA"),
    ])?;

    let mut builder = new_builder(&name, &name, &key, validity)?;
    let basic_constraints = BasicConstraints::new()
        .critical()
        .ca()
        .build()
        .map_err(openssl_error("build a CA certificate extension"))?;
    let key_usage = KeyUsage::new()
        .critical()
        .key_cert_sign()
        .crl_sign()
        .build()
        .map_err(openssl_error("build a CA certificate extension"))?;
    let subject_key_id = SubjectKeyIdentifier::new()
        .build(&builder.x509v3_context(None, None))
        .map_err(openssl_error("build a CA certificate extension"))?;
    for extension in [basic_constraints, key_usage, subject_key_id] {
        builder
            .append_extension(extension)
            .map_err(openssl_error("add a CA certificate extension"))?;
    }
    let cert = sign(builder, &key)?;
    Ok(Identity {
        cert,
        chain: Vec::new(),
        key,
    })
}

/// Issues one leaf certificate, with a new key, signed by `ca`.
pub(crate) fn issue_leaf(
    ca: &Identity,
    kind: LeafKind,
    opts: &DevCertOptions,
    validity: &Validity,
) -> Result<Identity, CertError> {
    let org_id = Psd2OrganizationId::parse(&opts.organization_identifier)?;
    let subject = match kind {
        LeafKind::Qwac | LeafKind::Qseal => {
            let common_name = if kind == LeafKind::Qwac {
                "passerelle-dev-qwac"
            } else {
                "passerelle-dev-qseal"
            };
            // C follows the organisation identifier's country (FR for the default), as a QTSP
            // would issue it.
            build_name(&[
                ("C", org_id.country),
                ("O", "Passerelle Dev TPP"),
                (ORGANIZATION_IDENTIFIER_OID, org_id.value),
                ("CN", common_name),
            ])?
        }
        LeafKind::Sandbox => build_name(&[
            ("C", "FR"),
            ("O", "Passerelle Dev Sandbox Bank"),
            ("CN", "passerelle-dev-sandbox"),
        ])?,
    };

    let key = new_rsa_key()?;
    let mut builder = new_builder(&subject, ca.cert.subject_name(), &key, validity)?;
    let mut extensions = vec![BasicConstraints::new()
        .build()
        .map_err(openssl_error("build a certificate extension"))?];
    let mut key_usage = KeyUsage::new();
    key_usage.critical().digital_signature();
    match kind {
        LeafKind::Qwac => {}
        LeafKind::Qseal => {
            key_usage.non_repudiation();
        }
        // RSA key exchange in TLS 1.2 needs keyEncipherment on the server certificate.
        LeafKind::Sandbox => {
            key_usage.key_encipherment();
        }
    }
    extensions.push(
        key_usage
            .build()
            .map_err(openssl_error("build a certificate extension"))?,
    );
    match kind {
        LeafKind::Qwac => extensions.push(
            ExtendedKeyUsage::new()
                .client_auth()
                .build()
                .map_err(openssl_error("build a certificate extension"))?,
        ),
        LeafKind::Qseal => {}
        LeafKind::Sandbox => extensions.push(
            ExtendedKeyUsage::new()
                .server_auth()
                .build()
                .map_err(openssl_error("build a certificate extension"))?,
        ),
    }
    {
        let context = builder.x509v3_context(Some(&ca.cert), None);
        extensions.push(
            SubjectKeyIdentifier::new()
                .build(&context)
                .map_err(openssl_error("build a certificate extension"))?,
        );
        extensions.push(
            AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&context)
                .map_err(openssl_error("build a certificate extension"))?,
        );
        if kind == LeafKind::Sandbox {
            extensions.push(sandbox_subject_alt_name(&opts.sandbox_hosts, &context)?);
        }
    }
    match kind {
        LeafKind::Qwac => extensions.push(qc_statements(QcType::Web, &org_id)?),
        LeafKind::Qseal => extensions.push(qc_statements(QcType::ESeal, &org_id)?),
        LeafKind::Sandbox => {}
    }
    for extension in extensions {
        builder
            .append_extension(extension)
            .map_err(openssl_error("add a certificate extension"))?;
    }

    let cert = sign(builder, &ca.key)?;
    Ok(Identity {
        cert,
        chain: Vec::new(),
        key,
    })
}

/// subjectAltName with one entry per sandbox host, IP or DNS as it parses.
fn sandbox_subject_alt_name(
    hosts: &[String],
    context: &X509v3Context<'_>,
) -> Result<X509Extension, CertError> {
    if hosts.is_empty() {
        return Err(CertError::NoSandboxHost);
    }
    let mut san = SubjectAlternativeName::new();
    for host in hosts {
        if host.parse::<IpAddr>().is_ok() {
            san.ip(host);
        } else if is_dns_name(host) {
            san.dns(host);
        } else {
            return Err(CertError::InvalidSandboxHost {
                value: host.clone(),
            });
        }
    }
    san.build(context)
        .map_err(openssl_error("build the subjectAltName extension"))
}

/// A syntactically plausible DNS name (letters, digits, hyphens, dots; optional `*.` wildcard).
fn is_dns_name(host: &str) -> bool {
    let name = host.strip_prefix("*.").unwrap_or(host);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn new_rsa_key() -> Result<PKey<Private>, CertError> {
    let rsa = Rsa::generate(RSA_BITS).map_err(openssl_error("generate an RSA key"))?;
    PKey::from_rsa(rsa).map_err(openssl_error("generate an RSA key"))
}

/// A distinguished name from (attribute, value) pairs; attributes are short names or dotted OIDs.
fn build_name(entries: &[(&str, &str)]) -> Result<X509Name, CertError> {
    let mut builder = X509NameBuilder::new().map_err(openssl_error("build a subject name"))?;
    for (field, value) in entries {
        builder
            .append_entry_by_text(field, value)
            .map_err(openssl_error("build a subject name"))?;
    }
    Ok(builder.build())
}

/// A v3 certificate builder with everything but extensions and signature.
fn new_builder(
    subject: &X509Name,
    issuer: &X509NameRef,
    key: &PKey<Private>,
    validity: &Validity,
) -> Result<X509Builder, CertError> {
    let err = || openssl_error("prepare a certificate");
    let mut builder = X509Builder::new().map_err(err())?;
    // X.509 v3 is encoded as 2.
    builder.set_version(2).map_err(err())?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial).map_err(err())?;
    builder.set_subject_name(subject).map_err(err())?;
    builder.set_issuer_name(issuer).map_err(err())?;
    builder.set_pubkey(key).map_err(err())?;
    builder
        .set_not_before(&validity.not_before)
        .map_err(err())?;
    builder.set_not_after(&validity.not_after).map_err(err())?;
    Ok(builder)
}

/// A random positive 128-bit serial: unique without bookkeeping, within RFC 5280's 20 octets.
fn random_serial() -> Result<Asn1Integer, CertError> {
    let err = || openssl_error("generate a serial number");
    let mut serial = BigNum::new().map_err(err())?;
    // Top bit set: always exactly 128 bits, hence never zero.
    serial.rand(128, MsbOption::ONE, false).map_err(err())?;
    serial.to_asn1_integer().map_err(err())
}

fn sign(mut builder: X509Builder, issuer_key: &PKey<Private>) -> Result<X509, CertError> {
    builder
        .sign(issuer_key, MessageDigest::sha256())
        .map_err(openssl_error("sign a certificate"))?;
    Ok(builder.build())
}

#[cfg(test)]
mod tests;
