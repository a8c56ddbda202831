//! API keys: `pas_<prefix>_<secret>`. The prefix finds the row; only the SHA-256 of the whole key
//! is stored, and it is compared in constant time.

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use openssl::rand::rand_bytes;
use openssl::sha::sha256;

use super::error::ApiError;
use crate::app::AppState;
use crate::store::models::{ApiClientRow, ApiKeyRow};
use crate::store::{self, api_clients, DbConnection, StoreError};
use diesel::Connection;

/// A freshly minted key: shown once, then only its hash exists.
pub struct NewApiKey {
    /// The whole key, to print once.
    pub key: String,
    /// The row to store.
    pub row: ApiKeyRow,
}

/// Mints a key for `api_client_id`.
pub fn mint(api_client_id: &str) -> Result<NewApiKey, openssl::error::ErrorStack> {
    let mut prefix = [0u8; 6];
    let mut secret = [0u8; 24];
    rand_bytes(&mut prefix)?;
    rand_bytes(&mut secret)?;
    let prefix = hex::encode(prefix);
    let key = format!("pas_{prefix}_{}", hex::encode(secret));
    let row = ApiKeyRow {
        id: store::new_id(),
        api_client_id: api_client_id.to_owned(),
        prefix,
        key_hash: hash(&key),
        created_at: store::now(),
        last_used_at: None,
        revoked_at: None,
    };
    Ok(NewApiKey { key, row })
}

fn hash(key: &str) -> String {
    hex::encode(sha256(key.as_bytes()))
}

/// Creates an API client named `name` with one key, returning the client and the key to show.
pub fn create_client_with_key(
    conn: &mut DbConnection,
    name: &str,
    redirect_allowlist: &[String],
) -> anyhow::Result<(ApiClientRow, String)> {
    let client = ApiClientRow {
        id: store::new_id(),
        name: name.to_owned(),
        redirect_allowlist: serde_json::to_string(redirect_allowlist)?,
        created_at: store::now(),
        disabled_at: None,
    };
    let minted = mint(&client.id)?;
    conn.transaction(|conn| {
        api_clients::insert_client(conn, &client)?;
        api_clients::insert_key(conn, &minted.row)
    })?;
    Ok((client, minted.key))
}

/// Finds the active API client a presented key belongs to.
pub fn authenticate(conn: &mut DbConnection, key: &str) -> Result<ApiClientRow, ApiError> {
    let prefix = key
        .strip_prefix("pas_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(prefix, _)| prefix)
        .ok_or(ApiError::Unauthorized)?;
    let row =
        api_clients::find_active_key_by_prefix(conn, prefix)?.ok_or(ApiError::Unauthorized)?;
    if !openssl::memcmp::eq(row.key_hash.as_bytes(), hash(key).as_bytes()) {
        return Err(ApiError::Unauthorized);
    }
    api_clients::find_client(conn, &row.api_client_id)?
        .filter(|c| c.disabled_at.is_none())
        .ok_or(ApiError::Unauthorized)
}

/// The API client behind the request's `Authorization: Bearer` key.
#[derive(Debug, Clone)]
pub struct ApiClient(pub ApiClientRow);

impl FromRequest for ApiClient {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let key = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|k| k.trim().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let (Some(key), Some(state)) = (key, state) else {
                return Err(ApiError::Unauthorized);
            };
            let client = web::block(move || {
                let mut conn = state.pool.get().map_err(StoreError::from)?;
                authenticate(&mut conn, &key)
            })
            .await
            .map_err(|_| ApiError::Store(StoreError::Cancelled))??;
            Ok(ApiClient(client))
        })
    }
}
