//! Treezor, a banking-as-a-service platform whose end users hold wallets (seeds 000 and 001):
//! Treezor is the users' identity provider (authorization code), Passerelle reads with the
//! user's delegated token, and seed 000's SCA rules are the connector's freshness policy.
//!
//! - [`client`]: bearer calls over mutual TLS, refresh-and-replay, Treezor's error shapes.
//! - [`wire`]: the answers as they come (numbers or strings, numeric currencies, Paris times).
//! - [`map`]: wallets, balances, operations and card payments into the domain model.
//! - [`connector`]: the [`crate::bank::Connector`].
//! - [`sessions`]: SCA sessions opened with a device proof, and External Operations.
//! - [`statements`]: monthly statements, the history where `/core-connect/operations` is absent.
//! - [`webhooks`]: Treezor's webhooks, their signature verified over the payload as sent.
//! - [`payments`]: transfers, beneficiaries and payouts, each sent once with its proof.
//! - [`device_payments`]: those as the payment flow's [`crate::bank::device_payments`].

pub mod client;
pub mod connector;
pub mod device_payments;
pub mod map;
pub mod payments;
pub mod sessions;
pub mod statements;
pub mod webhooks;
pub mod wire;

pub use client::TreezorClient;
pub use connector::TreezorConnector;
