//! The connection services: the journey's use cases (authorize, callback, consent, failure),
//! revocation, sealed tokens with single-flight refresh, the PSU context, and the audit trail of
//! consents. The journey pages and the API only parse, call these and render; the services call
//! the store and the provider's [`crate::bank::Connector`].

pub mod authorize;
pub mod callback;
pub mod consent;
pub mod expiry;
pub mod failure;
pub mod link;
pub mod psu;
pub mod revoke;
pub mod sca;
pub mod session;
pub mod tokens;

/// How long the provider's `state` stays valid.
pub const STATE_TTL_MINUTES: i64 = 15;
/// How long the consent form stays valid.
pub const CONSENT_FORM_TTL_MINUTES: i64 = 30;
/// How long after an SCA the same browser may change what is shared without a new SCA.
pub const SAME_BROWSER_WINDOW_MINUTES: i64 = 15;

use diesel::QueryResult;
use openssl::rand::rand_bytes;
use openssl::sha::sha256;

use crate::store::models::NewAuditEntry;
use crate::store::{self, audit, DbConnection};

/// A fresh random token (256 bits, hex) for links, states and forms.
pub fn random_token() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 32];
    rand_bytes(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// What is stored of a token: its SHA-256, so a database leak yields no usable link or state.
pub fn token_hash(token: &str) -> String {
    hex::encode(sha256(token.as_bytes()))
}

/// Appends one consent change to the audit log.
pub fn audit_consent(
    conn: &mut DbConnection,
    actor: &str,
    action: &str,
    api_client_id: Option<&str>,
    connection_id: &str,
    details: serde_json::Value,
) -> QueryResult<()> {
    audit::append(
        conn,
        &NewAuditEntry {
            at: store::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            api_client_id: api_client_id.map(str::to_owned),
            connection_id: Some(connection_id.to_owned()),
            details: details.to_string(),
        },
    )
}
