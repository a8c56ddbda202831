//! The demo's side of the JSON API: its API client (the key minted at start, held in memory
//! only) and the response shapes it reads, declared here as any app would declare them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use chrono::NaiveDate;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::events::DemoInbox;
use crate::api::auth;
use crate::store::{self, api_clients, Pool};

/// The demo API client's name.
pub const DEMO_CLIENT_NAME: &str = "demo";

/// The demo's API client: where the API listens and the key, held in memory only.
pub struct DemoClient {
    api_base: String,
    api_key: SecretString,
    pub(super) public_url: Url,
    /// The demo's webhook endpoint and the events it received.
    pub(super) inbox: DemoInbox,
}

impl DemoClient {
    /// Start-up: creates or updates the `demo` API client, revokes its older keys and mints a
    /// fresh one. `listening` is the address the server is bound to (an unspecified address is
    /// reached through loopback).
    pub fn prepare(pool: &Pool, public_url: &Url, listening: SocketAddr) -> anyhow::Result<Self> {
        let allowlist = vec![public_url
            .join("demo/")
            .context("PASSERELLE_PUBLIC_URL: cannot build the demo URL")?
            .to_string()];
        let allowlist_json = serde_json::to_string(&allowlist)?;
        let mut conn = pool.get().context("database pool")?;
        let key = crate::store::write_transaction(&mut conn, |conn| -> anyhow::Result<String> {
            let client = match api_clients::find_client_by_name(conn, DEMO_CLIENT_NAME)? {
                Some(client) => client,
                None => {
                    return Ok(auth::create_client_with_key(conn, DEMO_CLIENT_NAME, &allowlist)?.1)
                }
            };
            // The public URL may have changed since the last start.
            api_clients::set_redirect_allowlist(conn, &client.id, &allowlist_json)?;
            let revoked = api_clients::revoke_keys_of_client(conn, &client.id, store::now())?;
            if revoked > 0 {
                tracing::info!(revoked, "older demo API keys revoked");
            }
            let minted = auth::mint(&client.id)?;
            api_clients::insert_key(conn, &minted.row)?;
            Ok(minted.key)
        })?;
        let ip = match listening.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Ok(Self {
            api_base: format!("http://{}", SocketAddr::new(ip, listening.port())),
            api_key: SecretString::from(key),
            public_url: public_url.clone(),
            inbox: DemoInbox::default(),
        })
    }

    /// The demo's address, to print at start.
    pub fn url(&self) -> Option<Url> {
        self.public_url.join("demo").ok()
    }

    pub(super) fn page_url(&self, path: &str) -> String {
        self.public_url
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| format!("/{path}"))
    }

    /// Where the demo takes its webhooks: this process's own listener (a loopback address, which
    /// webhook URLs may name), whatever the public URL.
    pub(super) fn receiver_url(&self) -> String {
        format!("{}/demo/events", self.api_base)
    }

    /// One JSON API call, as the app would make it; an error answer becomes a readable message
    /// naming the problem's `code`.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, CallError> {
        let bytes = self.call_raw(method, path, body, None).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::transport(format!("{method} {path}: {e}")))
    }

    /// A `POST` under an `Idempotency-Key` (a payment creation).
    pub(super) async fn post_once<T: DeserializeOwned>(
        &self,
        path: &str,
        body: serde_json::Value,
        idempotency_key: &str,
    ) -> Result<T, CallError> {
        let bytes = self
            .call_raw("POST", path, Some(body), Some(idempotency_key))
            .await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CallError::transport(format!("POST {path}: {e}")))
    }

    /// A call whose answer has no body (`DELETE`).
    pub(super) async fn call_no_content(&self, method: &str, path: &str) -> Result<(), CallError> {
        self.call_raw(method, path, None, None).await.map(drop)
    }

    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        idempotency_key: Option<&str>,
    ) -> Result<bytes::Bytes, CallError> {
        // awc clients are bound to their thread: one per call is simplest for a demo page.
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let method =
            awc::http::Method::from_bytes(method.as_bytes()).map_err(CallError::transport)?;
        let mut request = client
            .request(method.clone(), format!("{}{path}", self.api_base))
            .insert_header((
                "Authorization",
                format!("Bearer {}", self.api_key.expose_secret()),
            ));
        if let Some(key) = idempotency_key {
            request = request.insert_header(("Idempotency-Key", key));
        }
        let sent = match body {
            Some(body) => request.send_json(&body).await,
            None => request.send().await,
        };
        let mut response =
            sent.map_err(|e| CallError::transport(format!("{method} {path}: {e}")))?;
        let bytes = response
            .body()
            .limit(8 << 20)
            .await
            .map_err(|e| CallError::transport(format!("{method} {path}: {e}")))?;
        if !response.status().is_success() {
            let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            let status = response.status().as_u16();
            return Err(CallError {
                status: Some(status),
                message: format!(
                    "{method} {path} answered {status}: {} {}",
                    problem["code"].as_str().unwrap_or("?"),
                    problem["detail"].as_str().unwrap_or("")
                ),
            });
        }
        Ok(bytes)
    }
}

/// A failed API call: the HTTP status when the API answered, and a message for the page.
#[derive(Debug)]
pub(super) struct CallError {
    pub(super) status: Option<u16>,
    pub(super) message: String,
}

impl CallError {
    pub(super) fn transport(e: impl std::fmt::Display) -> Self {
        Self {
            status: None,
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// `POST /v1/users/{u}/connections` answer (the fields the demo uses).
#[derive(Debug, Deserialize)]
pub(super) struct Created {
    pub(super) connect_url: String,
}

/// A connection as the API returns it.
#[derive(Debug, Deserialize)]
pub(super) struct ApiConnection {
    pub(super) id: String,
    pub(super) user_id: String,
    pub(super) bank_id: String,
    pub(super) status: String,
    pub(super) scopes: Vec<String>,
    pub(super) consent_expires_at: Option<String>,
    pub(super) last_synced_at: Option<String>,
    pub(super) error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiAccounts {
    pub(super) accounts: Vec<ApiAccount>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiAccount {
    pub(super) id: String,
    pub(super) connection_id: String,
    pub(super) name: String,
    pub(super) iban: Option<String>,
    pub(super) currency: String,
    pub(super) cash_account_type: String,
    pub(super) status: String,
}

/// An exact amount: the API's decimal string, shown as is.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct ApiAmount {
    pub(super) value: String,
    pub(super) currency: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiBalances {
    pub(super) balances: Vec<ApiBalance>,
    pub(super) history: Vec<ApiBalance>,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ApiBalance {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) amount: ApiAmount,
    pub(super) as_of: NaiveDate,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiTransactions {
    pub(super) transactions: Vec<ApiTransaction>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ApiTransaction {
    pub(super) amount: ApiAmount,
    pub(super) status: String,
    pub(super) booking_date: Option<NaiveDate>,
    pub(super) value_date: Option<NaiveDate>,
    pub(super) transaction_date: Option<NaiveDate>,
    pub(super) description: String,
}

/// A UTC time from the API (`2025-03-01T10:00:00.123456`), to the minute for reading.
fn minute(time: &Option<String>) -> Option<String> {
    time.as_deref()
        .map(|t| t.chars().take(16).collect::<String>().replace('T', " "))
}

impl ApiConnection {
    pub(super) fn consent_until(&self) -> Option<String> {
        minute(&self.consent_expires_at)
    }

    pub(super) fn synced(&self) -> Option<String> {
        minute(&self.last_synced_at)
    }
}

impl ApiTransaction {
    /// The date to show: booking, else transaction, else value date.
    pub(super) fn date(&self) -> String {
        self.booking_date
            .or(self.transaction_date)
            .or(self.value_date)
            .map(|d| d.to_string())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::store::DatabaseUrl;

    #[test]
    fn each_start_mints_a_new_demo_key_and_revokes_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let pool = store::connect(&DatabaseUrl::Sqlite(dir.path().join("d.db"))).unwrap();
        store::run_migrations(&mut pool.get().unwrap()).unwrap();
        let public = Url::parse("http://127.0.0.1:8080/").unwrap();
        let addr: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let first = DemoClient::prepare(&pool, &public, addr).unwrap();
        assert_eq!(first.api_base, "http://127.0.0.1:8080");
        let moved = Url::parse("http://localhost:9090/").unwrap();
        let second = DemoClient::prepare(&pool, &moved, addr).unwrap();
        let mut conn = pool.get().unwrap();
        assert!(auth::authenticate(&mut conn, first.api_key.expose_secret()).is_err());
        let client = auth::authenticate(&mut conn, second.api_key.expose_secret()).unwrap();
        assert_eq!(client.name, DEMO_CLIENT_NAME);
        assert_eq!(
            client.redirect_allowlist,
            r#"["http://localhost:9090/demo/"]"#
        );
        // One demo client, whatever the number of starts.
        let count: i64 = {
            use crate::store::schema::api_clients::dsl::*;
            use diesel::prelude::*;
            api_clients
                .filter(name.eq(DEMO_CLIENT_NAME))
                .count()
                .get_result(&mut **conn)
                .unwrap()
        };
        assert_eq!(count, 1);
    }
}
