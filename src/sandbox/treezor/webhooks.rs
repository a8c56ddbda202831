//! Webhooks (001:1603-1700): the simulator POSTs each event to the URL a test registered
//! through the sandbox handle. Envelope: `webhook`, `object`, `object_id`, `object_payload`,
//! `webhook_created_at` (epoch × 10⁴), `webhook_id`, `object_payload_signature`, `auth_key`.
//!
//! The seed does not say how to verify the signature (GAP); the contract decides:
//! `object_payload_signature` = base64(HMAC-SHA256(secret, the exact JSON text of
//! `object_payload` as sent)). The envelope is written by hand around that text so that what is
//! signed is byte for byte what travels. `auth_key` is a fixed marker (GAP too).

use std::sync::MutexGuard;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde_json::{json, Value};

use super::state::{Inner, TreezorState};

/// Where to send webhooks, and the secret that signs them.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The receiver's URL.
    pub url: String,
    /// The HMAC secret.
    pub secret: String,
}

/// One event waiting to be sent.
#[derive(Debug, Clone)]
pub struct WebhookEvent {
    /// `webhook` (`balance.update`, `transfer.create`…).
    pub webhook: String,
    /// `object`.
    pub object: String,
    /// `object_id`.
    pub object_id: String,
    /// `object_payload`.
    pub payload: Value,
}

/// Queues an event on `inner` (sent when the handler releases the lock, see [`release`]).
pub fn queue(inner: &mut Inner, webhook: &str, object: &str, object_id: String, payload: Value) {
    inner.outbox.push(WebhookEvent {
        webhook: webhook.to_owned(),
        object: object.to_owned(),
        object_id,
        payload,
    });
}

/// Queues a `balance.update` for `wallet` at `now`.
pub fn balance_update(inner: &mut Inner, wallet: u64, now: DateTime<Utc>) {
    let payload = json!({"balances": [{
        "walletId": wallet,
        "currentBalance": super::wire::number(inner.ledger.current(wallet, now)),
        "authorizations": super::wire::number(inner.ledger.authorizations(wallet, now)),
        "authorizedBalance": super::wire::number(inner.ledger.authorized(wallet, now)),
        "currency": "EUR",
        "calculationDate": super::wire::v1_date(now),
    }]});
    queue(
        inner,
        "balance.update",
        "balance",
        wallet.to_string(),
        payload,
    );
}

/// `base64(HMAC-SHA256(secret, text))`.
pub fn signature(secret: &str, text: &str) -> Result<String, openssl::error::ErrorStack> {
    let key = PKey::hmac(secret.as_bytes())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(text.as_bytes())?;
    Ok(STANDARD.encode(signer.sign_to_vec()?))
}

/// The envelope's JSON text for `event`.
pub fn envelope(event: &WebhookEvent, secret: &str, now: DateTime<Utc>) -> String {
    let payload = event.payload.to_string();
    let signature = signature(secret, &payload).unwrap_or_default();
    let string = |s: &str| Value::String(s.to_owned()).to_string();
    format!(
        "{{\"webhook\":{},\"object\":{},\"object_id\":{},\"object_payload\":{payload},\
         \"webhook_created_at\":{},\"webhook_id\":{},\"object_payload_signature\":{},\
         \"auth_key\":{}}}",
        string(&event.webhook),
        string(&event.object),
        string(&event.object_id),
        now.timestamp_millis().saturating_mul(10),
        string(&uuid::Uuid::new_v4().to_string()),
        string(&signature),
        string("treezor-sandbox"),
    )
}

/// Releases the lock, then sends what the handler queued (in order, one after the other, on the
/// current actix runtime; nothing is sent without a registered receiver or a runtime).
pub fn release(state: &TreezorState, mut inner: MutexGuard<'_, Inner>) {
    let events = std::mem::take(&mut inner.outbox);
    drop(inner);
    let target = state
        .webhook
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let Some(target) = target else { return };
    if events.is_empty() || actix_rt::System::try_current().is_none() {
        return;
    }
    let now = state.now();
    let bodies: Vec<String> = events
        .iter()
        .map(|e| envelope(e, &target.secret, now))
        .collect();
    actix_web::rt::spawn(async move {
        let client = awc::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .finish();
        for body in bodies {
            let sent = client
                .post(&target.url)
                .insert_header(("Content-Type", "application/json"))
                .send_body(body)
                .await;
            if let Err(e) = sent {
                tracing::warn!(url = %target.url, error = %e, "treezor sandbox: webhook not delivered");
            }
        }
    });
}
