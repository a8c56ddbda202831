//! TLS material: the QWAC client certificate and trust roots used for outbound calls to banks, the
//! QSEAL signing certificate, and the server certificate of the built-in sandbox bank.
//!
//! - [`certs`] generates a local development PKI (test CA, QWAC, QSEAL, sandbox server) so that
//!   `passerelle serve` works out of the box without certificates from a real QTSP.
//! - [`identity`] loads a certificate, its chain and its private key from PEM files, checking that
//!   the pair matches and the certificate is currently valid.

pub mod certs;
pub mod client;
pub mod expiry;
pub mod identity;

pub use certs::CertError;
