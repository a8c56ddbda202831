//! The QWAC and QSEAL as `doctor` sees them: readable, the key belonging to the certificate,
//! chained to the configured CA bundle, currently valid (a warning from 30 days before the
//! end), the `organizationIdentifier` equal to `PASSERELLE_CLIENT_ID`, the PSD2 roles of the
//! QCStatement, and private key files readable by their owner only.

use std::path::Path;

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509StoreContext, X509};

use super::{shared_mode, Check};
use crate::config::Config;
use crate::tls::certs::organization_identifier;

/// From how many days before its end a certificate is reported.
pub const EXPIRY_WARNING_DAYS: i32 = 30;

/// The DER of the PSD2 role OIDs (ETSI TS 119 495 `id-psd2-role-*`, 0.4.0.19495.1.n) without
/// their last arc, and each role's name by that arc.
const ROLE_OID_PREFIX: [u8; 6] = [0x04, 0x00, 0x81, 0x98, 0x27, 0x01];
const ROLES: [(u8, &str); 4] = [(1, "PSP_AS"), (2, "PSP_PI"), (3, "PSP_AI"), (4, "PSP_IC")];

/// Checks both certificates.
pub fn check(config: &Config, now: DateTime<Utc>) -> Vec<Check> {
    let ca = std::fs::read(&config.certs.ca_cert)
        .ok()
        .and_then(|pem| X509::stack_from_pem(&pem).ok())
        .unwrap_or_default();
    let mut checks = Vec::new();
    if ca.is_empty() {
        checks.push(Check::fail(
            "ca",
            format!(
                "no CA certificate could be read from {}",
                config.certs.ca_cert.display()
            ),
            "set PASSERELLE_CA_CERT to the bundle of the CA that issued the QWAC and QSEAL",
        ));
    }
    for (name, cert, key) in [
        ("qwac", &config.certs.qwac_cert, &config.certs.qwac_key),
        ("qseal", &config.certs.qseal_cert, &config.certs.qseal_key),
    ] {
        checks.push(one(name, cert, key, &ca, &config.client_id, now));
    }
    checks
}

/// One certificate: every problem found, the first one named.
fn one(
    name: &'static str,
    cert_path: &Path,
    key_path: &Path,
    ca: &[X509],
    client_id: &str,
    now: DateTime<Utc>,
) -> Check {
    let variable = name.to_uppercase();
    let certs = match std::fs::read(cert_path).map(|pem| X509::stack_from_pem(&pem)) {
        Ok(Ok(certs)) if !certs.is_empty() => certs,
        _ => {
            return Check::fail(
                name,
                format!("cannot read a certificate from {}", cert_path.display()),
                format!("set PASSERELLE_{variable}_CERT to the PEM certificate file"),
            )
        }
    };
    let cert = &certs[0];
    let key: PKey<Private> =
        match std::fs::read(key_path).map(|pem| PKey::private_key_from_pem(&pem)) {
            Ok(Ok(key)) => key,
            _ => {
                return Check::fail(
                    name,
                    format!(
                        "cannot read an unencrypted private key from {}",
                        key_path.display()
                    ),
                    format!("set PASSERELLE_{variable}_KEY to the PEM private key file"),
                )
            }
        };
    if !cert.public_key().is_ok_and(|public| public.public_eq(&key)) {
        return Check::fail(
            name,
            format!(
                "the key {} does not belong to the certificate {}",
                key_path.display(),
                cert_path.display()
            ),
            format!("install the key issued with this certificate in PASSERELLE_{variable}_KEY"),
        );
    }
    if let Some(mode) = shared_mode(key_path) {
        return Check::fail(
            name,
            format!(
                "the private key {} is readable by others (mode {mode:o})",
                key_path.display()
            ),
            format!("chmod 600 {}", key_path.display()),
        );
    }
    let at = Asn1Time::from_unix(now.timestamp()).ok();
    let days_left = at
        .as_ref()
        .and_then(|at| at.diff(cert.not_after()).ok())
        .map_or(0, |diff| diff.days);
    let expired = at
        .as_ref()
        .and_then(|at| cert.not_after().compare(at).ok())
        .map_or(true, |order| order == std::cmp::Ordering::Less);
    let not_after = cert.not_after().to_string();
    if expired {
        return Check::fail(
            name,
            format!("{} expired on {not_after}", cert_path.display()),
            "renew it with your QTSP and register the new one with each bank",
        );
    }
    if !ca.is_empty() && !chained(cert, &certs[1..], ca) {
        return Check::fail(
            name,
            format!(
                "{} does not chain to the CA bundle (PASSERELLE_CA_CERT)",
                cert_path.display()
            ),
            "install the issuing CA's certificates in PASSERELLE_CA_CERT, or the intermediates after the certificate in its file",
        );
    }
    match organization_identifier(cert) {
        Some(id) if id == client_id => {}
        Some(id) => {
            return Check::fail(
                name,
                format!("its organizationIdentifier is {id}, but PASSERELLE_CLIENT_ID is {client_id}"),
                format!("set PASSERELLE_CLIENT_ID={id}, or install this organisation's certificate"),
            )
        }
        None => {
            return Check::fail(
                name,
                "it has no organizationIdentifier (a PSD2 certificate carries the TPP's, e.g. PSDFR-ACPR-12345)",
                "install the eIDAS certificate your QTSP issued under PSD2",
            )
        }
    }
    let roles = roles(cert);
    if roles.is_empty() {
        return Check::fail(
            name,
            "no PSD2 role (PSP_AI, PSP_PI…) in its QCStatement",
            "install the eIDAS certificate your QTSP issued under PSD2",
        );
    }
    let message = format!(
        "{} for {client_id}, roles {}, valid until {not_after} ({days_left} days)",
        cert_path.display(),
        roles.join(", ")
    );
    if days_left < EXPIRY_WARNING_DAYS {
        Check::warn(
            name,
            message,
            "renew it now: banks need time to register the new certificate",
        )
    } else {
        Check::ok(name, message)
    }
}

/// Whether `cert` verifies against the CA bundle, with the intermediates from its file.
fn chained(cert: &X509, intermediates: &[X509], ca: &[X509]) -> bool {
    let verify = || -> Result<bool, openssl::error::ErrorStack> {
        let mut store = X509StoreBuilder::new()?;
        for root in ca {
            store.add_cert(root.clone())?;
        }
        let store = store.build();
        let mut chain = Stack::new()?;
        for intermediate in intermediates {
            chain.push(intermediate.clone())?;
        }
        let mut context = X509StoreContext::new()?;
        context.init(&store, cert, &chain, |c| c.verify_cert())
    };
    verify().unwrap_or(false)
}

/// The PSD2 roles named in the certificate's QCStatement.
fn roles(cert: &X509) -> Vec<&'static str> {
    let Ok(der) = cert.to_der() else {
        return Vec::new();
    };
    ROLES
        .iter()
        .filter(|(arc, _)| {
            der.windows(ROLE_OID_PREFIX.len() + 1).any(|w| {
                w[..ROLE_OID_PREFIX.len()] == ROLE_OID_PREFIX && w[ROLE_OID_PREFIX.len()] == *arc
            })
        })
        .map(|(_, role)| *role)
        .collect()
}
