//! What can go wrong while generating, writing or loading certificates and keys.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::DEFAULT_ORGANIZATION_IDENTIFIER;
use openssl::error::ErrorStack;

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
