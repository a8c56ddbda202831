//! The STET PSD2 connector (1.4.2): wire models, the pure normalizer, request signing and the
//! HTTP client.

pub mod client;
pub mod connector;
pub mod funds;
pub mod fuzz;
pub mod map;
pub mod payments;
pub mod replay;
pub mod request;
pub mod wire;

pub use client::{PaymentCreated, StetClient};
pub use connector::StetConnector;
