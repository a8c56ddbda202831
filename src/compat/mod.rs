//! The protocols budgeting apps already speak, served from Passerelle's store so that those apps
//! work unchanged: the SimpleFIN Bridge ([`simplefin`]). Reads never call a bank on the request
//! path; the unattended sync keeps the store fresh.

pub mod simplefin;
