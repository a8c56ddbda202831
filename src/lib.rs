//! Passerelle: a self-hostable PSD2 open-banking aggregator (AISP/PISP) over the STET API.
//!
//! The module tree follows the data flow of `DESIGN.md`: `registry` and `config` at the edge,
//! `api` for budgeting apps, `store` for persistence, `httpsig` and `tls` towards the banks.

pub mod api;
pub mod app;
pub mod bank;
pub mod clock;
pub mod compat;
pub mod config;
pub mod connect;
pub mod crypto;
pub mod data_dir;
pub mod doctor;
pub mod events;
pub mod fuzzing;
pub mod httpsig;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod oauth;
pub mod payments;
pub mod registry;
pub mod router;
pub mod sandbox;
pub mod state;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod web;
