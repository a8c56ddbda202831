//! Talking to banks: one folder per protocol (`stet/`). The bank client knows nothing of the
//! store: it hands raw response bodies back to its caller for the response vault.

pub mod stet;
