//! When a failed job runs again: exponential backoff with jitter, capped.

use chrono::Duration;

/// The first retry's delay.
pub const BASE: Duration = Duration::seconds(30);
/// The longest delay.
pub const CAP: Duration = Duration::hours(1);

/// The delay before attempt `attempts + 1`, after `attempts` failed ones: `BASE · 2^(n−1)`,
/// capped at [`CAP`], then scaled by a factor in `[0.5, 1.0)` drawn from `jitter` (a fraction
/// in `[0, 1)`) so that jobs that failed together do not retry together.
pub fn delay(attempts: i32, jitter: f64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    let full = BASE.checked_mul(1 << exponent).map_or(CAP, |d| d.min(CAP));
    let scale = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
    Duration::milliseconds((full.num_milliseconds() as f64 * scale) as i64)
}

/// A fraction in `[0, 1)` from the system's random source (0.5 if it fails).
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    match openssl::rand::rand_bytes(&mut bytes) {
        Ok(()) => (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_stop_at_the_cap() {
        assert_eq!(delay(1, 1.0 - f64::EPSILON).num_seconds(), 29);
        assert_eq!(delay(1, 0.0).num_seconds(), 15);
        assert_eq!(delay(2, 0.0).num_seconds(), 30);
        assert_eq!(delay(3, 0.0).num_seconds(), 60);
        assert_eq!(delay(30, 0.0), CAP / 2);
        assert!(delay(30, 0.99) < CAP);
    }
}
