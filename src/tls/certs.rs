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
use openssl::error::ErrorStack;
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

/// Error raised while generating, writing or loading certificates and keys.
///
/// Every variant that concerns a file names its path. Messages are complete on their own (they
/// include the underlying OS or OpenSSL error), so they are not chained again through
/// [`std::error::Error::source`], which would print the cause twice in `{:#}` error reports.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read (missing, unreadable, …).
    #[error("cannot read {what} {}: {error}", path.display())]
    Read {
        /// What the file was expected to hold, e.g. `certificate` or `private key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// The output directory could not be created.
    #[error("cannot create directory {}: {error}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        error: io::Error,
    },
    /// A file was read but its PEM content could not be parsed.
    #[error("cannot parse {what} {}: {error}", path.display())]
    Parse {
        /// What the file was expected to hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OpenSSL error.
        error: ErrorStack,
    },
    /// A certificate file holds no PEM certificate at all.
    #[error("no certificate found in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A private key file is passphrase-protected; Passerelle runs unattended and cannot prompt.
    #[error(
        "private key {} is encrypted: Passerelle needs an unencrypted PEM key (protect it with file permissions instead)",
        path.display()
    )]
    EncryptedKey {
        /// The key file.
        path: PathBuf,
    },
    /// The private key does not belong to the certificate.
    #[error(
        "private key {} does not match certificate {}",
        key_path.display(),
        cert_path.display()
    )]
    KeyMismatch {
        /// The certificate file.
        cert_path: PathBuf,
        /// The key file.
        key_path: PathBuf,
    },
    /// The certificate's validity period has ended.
    #[error("certificate {} expired at {not_after}", path.display())]
    Expired {
        /// The certificate file.
        path: PathBuf,
        /// End of the validity period.
        not_after: DateTime<Utc>,
    },
    /// The certificate's validity period has not started yet (or the local clock is wrong).
    #[error("certificate {} is not valid before {not_before}", path.display())]
    NotYetValid {
        /// The certificate file.
        path: PathBuf,
        /// Start of the validity period.
        not_before: DateTime<Utc>,
    },
    /// The organisation identifier is not of the ETSI TS 119 495 PSD2 form.
    #[error(
        "invalid PSD2 organisation identifier {value:?}: expected PSD<country>-<NCA>-<authorisation number>, e.g. {DEFAULT_ORGANIZATION_IDENTIFIER}"
    )]
    InvalidOrganizationIdentifier {
        /// The rejected value.
        value: String,
    },
    /// A sandbox host is neither an IP address nor a DNS name.
    #[error("invalid sandbox host {value:?}: expected a DNS name or an IP address")]
    InvalidSandboxHost {
        /// The rejected value.
        value: String,
    },
    /// No sandbox host was given, so the server certificate would match no address.
    #[error("no sandbox host given: the sandbox server certificate needs at least one DNS name or IP address")]
    NoSandboxHost,
    /// OpenSSL failed while building or signing a certificate.
    #[error("OpenSSL failed to {context}: {error}")]
    OpenSsl {
        /// What was being done, phrased to follow "failed to".
        context: &'static str,
        /// The OpenSSL error.
        error: ErrorStack,
    },
}

/// Wraps an OpenSSL error with what was being attempted.
pub(crate) fn openssl_error(context: &'static str) -> impl FnOnce(ErrorStack) -> CertError {
    move |error| CertError::OpenSsl { context, error }
}

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

/// Creates the directory, private to the user on unix since it holds private keys.
fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|error| CertError::CreateDir {
        path: dir.to_path_buf(),
        error,
    })
}

/// Writes a certificate (0644) and its PKCS#8 key (0600).
fn write_identity(identity: &Identity, cert_path: &Path, key_path: &Path) -> Result<(), CertError> {
    let cert_pem = identity
        .cert
        .to_pem()
        .map_err(openssl_error("encode a certificate as PEM"))?;
    let key_pem = identity
        .key
        .private_key_to_pem_pkcs8()
        .map_err(openssl_error("encode a private key as PEM"))?;
    write_atomically(key_path, &key_pem, 0o600)?;
    write_atomically(cert_path, &cert_pem, 0o644)
}

/// Writes through a temporary file and a rename, so a crash never leaves a truncated PEM, and a
/// key file is never readable by others, not even for a moment.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let write_error = |error| CertError::Write {
        path: path.to_path_buf(),
        error,
    };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp"));
    // A leftover from an interrupted run may have other permissions; start from a fresh file.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(write_error(error)),
    }

    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;

    let result = options
        .open(&tmp)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(error) = result {
        // Best effort: the write error is what matters to the caller.
        let _ = fs::remove_file(&tmp);
        return Err(write_error(error));
    }
    Ok(())
}

/// A PSD2 organisation identifier split per ETSI TS 119 495 §5.2.1.
struct Psd2OrganizationId<'a> {
    /// The whole identifier, e.g. `PSDFR-ACPR-99999`.
    value: &'a str,
    /// ISO 3166-1 alpha-2 country of the NCA, e.g. `FR`.
    country: &'a str,
    /// NCA short name, e.g. `ACPR`.
    nca: &'a str,
}

impl<'a> Psd2OrganizationId<'a> {
    /// `PSD` + 2-letter country + `-` + 2–8 letter NCA + `-` + the NCA's authorisation number.
    fn parse(value: &'a str) -> Result<Self, CertError> {
        let invalid = || CertError::InvalidOrganizationIdentifier {
            value: value.to_owned(),
        };
        let rest = value.strip_prefix("PSD").ok_or_else(invalid)?;
        let mut parts = rest.splitn(3, '-');
        let (Some(country), Some(nca), Some(number)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let upper = |s: &str| s.bytes().all(|b| b.is_ascii_uppercase());
        let valid = country.len() == 2
            && upper(country)
            && (2..=8).contains(&nca.len())
            && upper(nca)
            && !number.is_empty()
            // Authorisation numbers vary by NCA (digits, dots, letters…) but never hold spaces.
            && number.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(invalid());
        }
        Ok(Self {
            value,
            country,
            nca,
        })
    }
}

/// ETSI EN 319 412-5 QcType of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QcType {
    /// Electronic seal (QSEAL).
    ESeal,
    /// Website authentication (QWAC).
    Web,
}

/// OIDs of the statements, as arcs so that they are encoded without parsing.
mod qc_oid {
    /// `id-etsi-qcs-QcCompliance`: issued as a qualified certificate.
    pub(super) const QC_COMPLIANCE: &[u32] = &[0, 4, 0, 1862, 1, 1];
    /// `id-etsi-qcs-QcType`.
    pub(super) const QC_TYPE: &[u32] = &[0, 4, 0, 1862, 1, 6];
    /// `id-etsi-qct-eseal`.
    pub(super) const QCT_ESEAL: &[u32] = &[0, 4, 0, 1862, 1, 6, 2];
    /// `id-etsi-qct-web`.
    pub(super) const QCT_WEB: &[u32] = &[0, 4, 0, 1862, 1, 6, 3];
    /// `id-etsi-psd2-qcStatement`.
    pub(super) const PSD2: &[u32] = &[0, 4, 0, 19495, 2];
    /// `id-psd2-role-psp-pi`: payment initiation.
    pub(super) const ROLE_PSP_PI: &[u32] = &[0, 4, 0, 19495, 1, 2];
    /// `id-psd2-role-psp-ai`: account information.
    pub(super) const ROLE_PSP_AI: &[u32] = &[0, 4, 0, 19495, 1, 3];
}

/// The qcStatements extension (RFC 3739) with QcCompliance, QcType and the ETSI TS 119 495 PSD2
/// statement (roles PSP_AI and PSP_PI, NCA name and id), DER-encoded by hand because OpenSSL has
/// no configuration syntax for it.
fn qc_statements(
    qc_type: QcType,
    org_id: &Psd2OrganizationId<'_>,
) -> Result<X509Extension, CertError> {
    let der = qc_statements_der(qc_type, org_id);
    let oid = Asn1Object::from_str(QC_STATEMENTS_OID)
        .map_err(openssl_error("build the qcStatements extension"))?;
    let value = Asn1OctetString::new_from_bytes(&der)
        .map_err(openssl_error("build the qcStatements extension"))?;
    // Non-critical, as RFC 3739 recommends, so software that does not know it still accepts it.
    X509Extension::new_from_der(&oid, false, &value)
        .map_err(openssl_error("build the qcStatements extension"))
}

/// ```text
/// QCStatements ::= SEQUENCE OF QCStatement
/// QCStatement ::= SEQUENCE { statementId OBJECT IDENTIFIER, statementInfo ANY OPTIONAL }
/// QcType ::= SEQUENCE OF OBJECT IDENTIFIER
/// PSD2QcType ::= SEQUENCE { rolesOfPSP RolesOfPSP, nCAName NCAName, nCAId NCAId }
/// RolesOfPSP ::= SEQUENCE OF RoleOfPSP
/// RoleOfPSP ::= SEQUENCE { roleOfPspOid OBJECT IDENTIFIER, roleOfPspName UTF8String }
/// NCAName ::= UTF8String; NCAId ::= UTF8String
/// ```
fn qc_statements_der(qc_type: QcType, org_id: &Psd2OrganizationId<'_>) -> Vec<u8> {
    let qct = match qc_type {
        QcType::ESeal => qc_oid::QCT_ESEAL,
        QcType::Web => qc_oid::QCT_WEB,
    };
    let roles = der::sequence(&[
        der::sequence(&[der::oid(qc_oid::ROLE_PSP_AI), der::utf8_string("PSP_AI")]),
        der::sequence(&[der::oid(qc_oid::ROLE_PSP_PI), der::utf8_string("PSP_PI")]),
    ]);
    // The NCA id is `<country>-<NCA>` (e.g. FR-ACPR); the NCA's short name serves as its name.
    let psd2 = der::sequence(&[
        roles,
        der::utf8_string(org_id.nca),
        der::utf8_string(&format!("{}-{}", org_id.country, org_id.nca)),
    ]);
    der::sequence(&[
        der::sequence(&[der::oid(qc_oid::QC_COMPLIANCE)]),
        der::sequence(&[der::oid(qc_oid::QC_TYPE), der::sequence(&[der::oid(qct)])]),
        der::sequence(&[der::oid(qc_oid::PSD2), psd2]),
    ])
}

/// The few DER encodings the qcStatements extension needs (X.690).
mod der {
    const TAG_SEQUENCE: u8 = 0x30;
    const TAG_OID: u8 = 0x06;
    const TAG_UTF8_STRING: u8 = 0x0c;

    /// Tag, definite length, content.
    pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(content.len() + 6);
        out.push(tag);
        match u8::try_from(content.len()) {
            Ok(short @ 0..=0x7f) => out.push(short),
            _ => {
                let len = content.len().to_be_bytes();
                let skip = len.iter().take_while(|b| **b == 0).count();
                let significant = &len[skip..];
                // At most size_of::<usize>() bytes, so the count fits in the 7 low bits.
                out.push(0x80 | significant.len() as u8);
                out.extend_from_slice(significant);
            }
        }
        out.extend_from_slice(content);
        out
    }

    /// SEQUENCE of already-encoded elements.
    pub(super) fn sequence(elements: &[Vec<u8>]) -> Vec<u8> {
        tlv(TAG_SEQUENCE, &elements.concat())
    }

    pub(super) fn utf8_string(value: &str) -> Vec<u8> {
        tlv(TAG_UTF8_STRING, value.as_bytes())
    }

    /// OBJECT IDENTIFIER from its arcs; the first two arcs share one subidentifier.
    pub(super) fn oid(arcs: &[u32]) -> Vec<u8> {
        let mut content = Vec::new();
        if let [first, second, rest @ ..] = arcs {
            push_base128(&mut content, first * 40 + second);
            for arc in rest {
                push_base128(&mut content, *arc);
            }
        }
        tlv(TAG_OID, &content)
    }

    /// Big-endian base 128, high bit set on every byte but the last.
    fn push_base128(out: &mut Vec<u8>, mut value: u32) {
        let mut groups = vec![(value & 0x7f) as u8];
        value >>= 7;
        while value > 0 {
            groups.push((value & 0x7f) as u8 | 0x80);
            value >>= 7;
        }
        out.extend(groups.iter().rev());
    }
}

#[cfg(test)]
// Tests fail loudly on purpose; the crate-wide lints target production code.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::Duration;

    fn generate() -> (tempfile::TempDir, DevCertPaths) {
        let dir = tempfile::tempdir().unwrap();
        let paths =
            generate_dev_certs(&dir.path().join("certs"), &DevCertOptions::default()).unwrap();
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
        assert!(
            openssl(&["verify", "-purpose", "sslclient", "-CAfile", ca, qwac]).contains(": OK")
        );
        assert!(
            openssl(&["verify", "-purpose", "sslserver", "-CAfile", ca, sandbox]).contains(": OK")
        );
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
}
