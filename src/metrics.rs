//! `/metrics`, in the Prometheus text format: what the database knows for the whole fleet (jobs
//! by status, sync runs by trigger and status), and what this process saw (bank calls by bank,
//! endpoint and status, their latency, unattended calls the quota ledger refused). Labels hold
//! bank ids and path templates only: never an account, a connection or a token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket (cumulative at render), then the `+Inf` one.
    buckets: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let index = BUCKETS
            .iter()
            .position(|le| seconds <= *le)
            .unwrap_or(BUCKETS.len());
        self.buckets[index] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

/// This process's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    bank_calls: Mutex<BTreeMap<(String, String, String), u64>>,
    bank_latency: Mutex<BTreeMap<String, Histogram>>,
    quota_refusals: Mutex<BTreeMap<(String, String), u64>>,
}

/// The whole exposition as `/metrics` serves it, in `serve` and in `passerelle worker
/// --metrics-listen`: the fleet read from `pool`, then this process's counters. A database
/// that does not answer leaves the fleet's part empty rather than failing the scrape. The TPP
/// certificates' ends close it (read from `certs` at each scrape).
pub async fn exposition(pool: &crate::store::Pool, certs: &crate::config::CertPaths) -> String {
    let fleet = crate::store::run(pool, |conn| {
        Ok(Fleet {
            jobs: crate::store::jobs::counts(conn)?,
            sync_runs: crate::store::sync_runs::counts(conn)?,
        })
    })
    .await
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "metrics: the database did not answer");
        Fleet::default()
    });
    let mut out = global().render(&fleet);
    out.push_str(&crate::tls::expiry::exposition(certs));
    out
}

/// The content type of the text exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// A poisoned lock still holds counts worth showing.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// One call to a bank: `status` is the HTTP status, or `None` when no answer came.
    pub fn bank_call(&self, bank: &str, endpoint: &str, status: Option<u16>, took: Duration) {
        let status = status.map_or_else(|| "none".to_owned(), |s| s.to_string());
        *lock(&self.bank_calls)
            .entry((bank.to_owned(), endpoint.to_owned(), status))
            .or_insert(0) += 1;
        lock(&self.bank_latency)
            .entry(bank.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// One unattended call the quota ledger refused (not sent).
    pub fn quota_refused(&self, bank: &str, method: &str) {
        *lock(&self.quota_refusals)
            .entry((bank.to_owned(), method.to_owned()))
            .or_insert(0) += 1;
    }

    /// The text exposition of these counters and of `fleet` (read from the database).
    pub fn render(&self, fleet: &Fleet) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP passerelle_jobs Jobs in the queue, by status (all processes)."
        );
        let _ = writeln!(out, "# TYPE passerelle_jobs gauge");
        for status in ["queued", "running", "dead"] {
            let n = fleet
                .jobs
                .iter()
                .find(|(s, _)| s == status)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "passerelle_jobs{{status=\"{status}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP passerelle_sync_runs Sync runs recorded, by trigger and status (all processes).");
        let _ = writeln!(out, "# TYPE passerelle_sync_runs gauge");
        for (trigger, status, n) in &fleet.sync_runs {
            let _ = writeln!(
                out,
                "passerelle_sync_runs{{trigger=\"{}\",status=\"{}\"}} {n}",
                escape(trigger),
                escape(status)
            );
        }
        let _ = writeln!(out, "# HELP passerelle_bank_calls_total Calls this process sent to banks, by bank, endpoint and HTTP status (`none`: no answer).");
        let _ = writeln!(out, "# TYPE passerelle_bank_calls_total counter");
        for ((bank, endpoint, status), n) in lock(&self.bank_calls).iter() {
            let _ = writeln!(
                out,
                "passerelle_bank_calls_total{{bank=\"{}\",endpoint=\"{}\",status=\"{status}\"}} {n}",
                escape(bank),
                escape(endpoint)
            );
        }
        let _ = writeln!(
            out,
            "# HELP passerelle_bank_call_seconds Latency of this process's bank calls, by bank."
        );
        let _ = writeln!(out, "# TYPE passerelle_bank_call_seconds histogram");
        for (bank, h) in lock(&self.bank_latency).iter() {
            let bank = escape(bank);
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "passerelle_bank_call_seconds_bucket{{bank=\"{bank}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "passerelle_bank_call_seconds_bucket{{bank=\"{bank}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "passerelle_bank_call_seconds_sum{{bank=\"{bank}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "passerelle_bank_call_seconds_count{{bank=\"{bank}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(out, "# HELP passerelle_quota_refusals_total Unattended calls this process did not send: the day's quota was spent.");
        let _ = writeln!(out, "# TYPE passerelle_quota_refusals_total counter");
        for ((bank, method), n) in lock(&self.quota_refusals).iter() {
            let _ = writeln!(
                out,
                "passerelle_quota_refusals_total{{bank=\"{}\",method=\"{}\"}} {n}",
                escape(bank),
                escape(method)
            );
        }
        out
    }
}

/// What the database says of the whole fleet.
#[derive(Debug, Default)]
pub struct Fleet {
    /// Jobs per status.
    pub jobs: Vec<(String, i64)>,
    /// Sync runs per trigger and status.
    pub sync_runs: Vec<(String, String, i64)>,
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_the_histogram_render_in_the_text_format() {
        let m = Metrics::default();
        m.bank_call(
            "sandbox-bcp",
            "GET /accounts",
            Some(200),
            Duration::from_millis(20),
        );
        m.bank_call(
            "sandbox-bcp",
            "GET /accounts",
            Some(200),
            Duration::from_millis(700),
        );
        m.bank_call(
            "sandbox-bcp",
            "GET /accounts",
            None,
            Duration::from_secs(30),
        );
        m.quota_refused("sandbox-bcp", "accounts");
        let text = m.render(&Fleet {
            jobs: vec![("queued".into(), 3)],
            sync_runs: vec![("batch".into(), "succeeded".into(), 7)],
        });
        assert!(
            text.contains("passerelle_jobs{status=\"queued\"} 3"),
            "{text}"
        );
        assert!(text.contains("passerelle_jobs{status=\"dead\"} 0"));
        assert!(text.contains("passerelle_sync_runs{trigger=\"batch\",status=\"succeeded\"} 7"));
        assert!(text.contains(
            "passerelle_bank_calls_total{bank=\"sandbox-bcp\",endpoint=\"GET /accounts\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"none\"} 1"));
        assert!(text
            .contains("passerelle_bank_call_seconds_bucket{bank=\"sandbox-bcp\",le=\"0.025\"} 1"));
        assert!(
            text.contains("passerelle_bank_call_seconds_bucket{bank=\"sandbox-bcp\",le=\"1\"} 2")
        );
        assert!(text
            .contains("passerelle_bank_call_seconds_bucket{bank=\"sandbox-bcp\",le=\"+Inf\"} 3"));
        assert!(text.contains(
            "passerelle_quota_refusals_total{bank=\"sandbox-bcp\",method=\"accounts\"} 1"
        ));
        assert_eq!(escape("a\"b"), "a\\\"b");
    }
}
