//! The TPP QSEAL certificates the sandbox bank has registered, and which one verified each
//! signed call. A real bank registers a renewed certificate beside the old one before the TPP
//! switches (both verify meanwhile); tests do the same with [`QsealRegistry::register`] and
//! read [`QsealRegistry::signed_by`] to see which certificate signed what.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use openssl::x509::X509Ref;

use crate::httpsig::{self, HeaderSource, SignatureParams, VerifyingKey};

/// The most entries the signer log keeps (the sandbox also runs for days under `serve`).
const LOG_LIMIT: usize = 10_000;

/// Registered QSEAL keys, each under its certificate's label.
#[derive(Debug, Clone, Default)]
pub struct QsealRegistry {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    keys: Vec<(String, Arc<VerifyingKey>)>,
    signed_by: VecDeque<String>,
}

/// Why a certificate could not be registered.
#[derive(Debug, thiserror::Error)]
#[error("unusable QSEAL certificate: {0}")]
pub struct RegisterError(String);

impl QsealRegistry {
    /// A certificate's label: the first 16 hex digits of its SHA-256 fingerprint.
    pub fn label_of(cert: &X509Ref) -> String {
        cert.to_der()
            .map(|der| hex::encode(&openssl::sha::sha256(&der)[..8]))
            .unwrap_or_default()
    }

    /// Registers a certificate (again: no change); returns its label.
    pub fn register(&self, cert: &X509Ref) -> Result<String, RegisterError> {
        let key = VerifyingKey::from_certificate(cert).map_err(|e| RegisterError(e.to_string()))?;
        let label = Self::label_of(cert);
        let mut inner = self.lock();
        if !inner.keys.iter().any(|(l, _)| l == &label) {
            inner.keys.push((label.clone(), Arc::new(key)));
        }
        Ok(label)
    }

    /// The labels of the certificates that verified the signed calls, oldest first.
    pub fn signed_by(&self) -> Vec<String> {
        self.lock().signed_by.iter().cloned().collect()
    }

    /// Verifies a signature with each registered key until one accepts it, and logs which.
    pub(crate) fn verify<H: HeaderSource + ?Sized>(
        &self,
        params: &SignatureParams,
        method: &str,
        target: &str,
        headers: &H,
    ) -> Result<(), httpsig::VerifyError> {
        let keys: Vec<(String, Arc<VerifyingKey>)> = self.lock().keys.clone();
        let mut last = None;
        for (label, key) in keys {
            match httpsig::verify(params, method, target, headers, &key) {
                Ok(()) => {
                    let mut inner = self.lock();
                    if inner.signed_by.len() == LOG_LIMIT {
                        inner.signed_by.pop_front();
                    }
                    inner.signed_by.push_back(label);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(httpsig::VerifyError::SignatureMismatch))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
