//! The STET PSD2 connector (1.4.2): wire models, the pure normalizer and the HTTP client.

pub mod map;
pub mod wire;
