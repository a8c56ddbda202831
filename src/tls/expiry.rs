//! When the TPP's certificates end, told before it happens: a gauge in `/metrics` (read from
//! the files at each scrape, so a renewed certificate shows at once) and a warning in the log
//! from [`WARNING_DAYS`] days before, at start and then once a day (the minute's sweep asks).
//! A bank needs time to register a renewed QWAC or QSEAL, so a month's notice is the least.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use openssl::asn1::Asn1Time;
use openssl::x509::X509;

use crate::config::CertPaths;

/// From how many days before its end a certificate is warned about.
pub const WARNING_DAYS: i64 = 30;

/// When the first certificate in a PEM file ends; `None` when it cannot be read.
pub fn not_after(path: &Path) -> Option<DateTime<Utc>> {
    let pem = std::fs::read(path).ok()?;
    let cert = X509::from_pem(&pem).ok()?;
    let diff = Asn1Time::from_unix(0).ok()?.diff(cert.not_after()).ok()?;
    DateTime::from_timestamp(i64::from(diff.days) * 86_400 + i64::from(diff.secs), 0)
}

/// The QWAC and QSEAL, by the names the gauge and the warnings use.
fn certificates(certs: &CertPaths) -> [(&'static str, &Path); 2] {
    [
        ("qwac", certs.qwac_cert.as_path()),
        ("qseal", certs.qseal_cert.as_path()),
    ]
}

/// A warning for each certificate that ends within [`WARNING_DAYS`] of `now` (or has ended).
pub fn expiring(certs: &CertPaths, now: DateTime<Utc>) -> Vec<String> {
    certificates(certs)
        .into_iter()
        .filter_map(|(name, path)| {
            let end = not_after(path)?;
            let days = (end - now).num_days();
            if end <= now {
                Some(format!(
                    "the {} certificate {} ended on {end}: banks refuse it; install the renewed one",
                    name.to_uppercase(),
                    path.display()
                ))
            } else if days < WARNING_DAYS {
                Some(format!(
                    "the {} certificate {} ends in {days} days ({end}): renew it and register the new one with each bank now",
                    name.to_uppercase(),
                    path.display()
                ))
            } else {
                None
            }
        })
        .collect()
}

/// Logs [`expiring`]'s warnings, at most once per UTC day in this process; returns them.
pub fn log_expiring(certs: &CertPaths, now: DateTime<Utc>) -> Vec<String> {
    static LAST_DAY: AtomicI64 = AtomicI64::new(i64::MIN);
    let day = now.timestamp().div_euclid(86_400);
    if LAST_DAY.swap(day, Ordering::Relaxed) == day {
        return Vec::new();
    }
    let warnings = expiring(certs, now);
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    warnings
}

/// The gauge's exposition lines.
pub fn exposition(certs: &CertPaths) -> String {
    let mut out = String::from(
        "# HELP passerelle_certificate_expiry_timestamp_seconds When the TPP's certificate ends (Unix time), as its file holds it now.\n\
         # TYPE passerelle_certificate_expiry_timestamp_seconds gauge\n",
    );
    for (name, path) in certificates(certs) {
        if let Some(end) = not_after(path) {
            out.push_str(&format!(
                "passerelle_certificate_expiry_timestamp_seconds{{certificate=\"{name}\"}} {}\n",
                end.timestamp()
            ));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::tls::certs::{generate_dev_certs, DevCertOptions};

    #[test]
    fn a_certificate_is_warned_about_from_thirty_days_before_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let dev = generate_dev_certs(dir.path(), &DevCertOptions::default()).unwrap();
        let certs = CertPaths {
            qwac_cert: dev.qwac_cert.clone(),
            qwac_key: dev.qwac_key.clone(),
            qseal_cert: dev.qseal_cert.clone(),
            qseal_key: dev.qseal_key.clone(),
            ca_cert: dev.ca_cert.clone(),
            defaults: false,
        };
        let end = not_after(&dev.qwac_cert).unwrap();
        assert!(end > Utc::now());
        let soon = expiring(&certs, end - chrono::Duration::days(10));
        assert_eq!(soon.len(), 2, "{soon:?}");
        assert!(
            soon[0].contains("QWAC") && soon[0].contains("ends in 10 days"),
            "{soon:?}"
        );
        let ended = expiring(&certs, end + chrono::Duration::days(1));
        assert!(ended[0].contains("ended on"), "{ended:?}");
        assert!(expiring(&certs, end - chrono::Duration::days(31)).is_empty());
        let text = exposition(&certs);
        assert!(text.contains(&format!(
            "passerelle_certificate_expiry_timestamp_seconds{{certificate=\"qwac\"}} {}",
            end.timestamp()
        )));
    }
}
