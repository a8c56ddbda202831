//! The protocols budgeting apps already speak, served from Passerelle's store so that those apps
//! work unchanged: the SimpleFIN Bridge ([`simplefin`]) and a GoCardless Bank Account
//! Data-compatible API ([`gocardless`]). Reads never call a bank on the request path; the
//! unattended sync keeps the store fresh.

pub mod gocardless;
pub mod simplefin;
