//! API keys: `pas_<prefix>_<secret>`. The prefix finds the row; only the SHA-256 of the whole key
//! is stored, and it is compared in constant time.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use openssl::rand::rand_bytes;
use openssl::sha::sha256;

use super::error::ApiError;
use crate::state::AppState;
use crate::store::models::{ApiClientRow, ApiKeyRow};
use crate::store::{self, api_clients, DbConnection, StoreError};

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
    crate::store::write_transaction(conn, |conn| {
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

/// How long a successful authentication is remembered by a `serve` process. A key revoked or a
/// client disabled in the database stops authenticating within this time (not at once) on every
/// process: the price of not paying a blocking-pool trip and two queries on every API call, which
/// the transactions-feed benchmark measured as a large share of a request.
pub const AUTH_CACHE_TTL: Duration = Duration::from_secs(5);

/// At most this many remembered keys; past it the cache starts over (it only saves queries).
const AUTH_CACHE_MAX: usize = 10_000;

/// Successful authentications of the last [`AUTH_CACHE_TTL`], keyed by the SHA-256 of the
/// presented key (never the key itself). Failures are never remembered, so a key that did not
/// authenticate is checked against the database every time. Looking up a hash in a map is not
/// constant-time, but it can only tell about hashes of keys that already authenticated, which
/// does not help to guess a key.
#[derive(Debug, Default)]
pub struct AuthCache {
    entries: Mutex<HashMap<String, (Instant, ApiClientRow)>>,
}

impl AuthCache {
    fn get(&self, key_hash: &str) -> Option<ApiClientRow> {
        // A poisoned lock only means another request panicked mid-update of a plain map.
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key_hash)
            .filter(|(at, _)| at.elapsed() < AUTH_CACHE_TTL)
            .map(|(_, client)| client.clone())
    }

    fn put(&self, key_hash: String, client: ApiClientRow) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= AUTH_CACHE_MAX {
            entries.retain(|_, (at, _)| at.elapsed() < AUTH_CACHE_TTL);
            if entries.len() >= AUTH_CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(key_hash, (Instant::now(), client));
    }
}

/// The API client behind the request's `Authorization: Bearer` key.
#[derive(Debug, Clone)]
pub struct ApiClient(pub ApiClientRow);

/// Authenticates the request's bearer key (from the cache when it authenticated lately).
fn authenticate_request(req: &HttpRequest) -> impl Future<Output = Result<ApiClient, ApiError>> {
    let key = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|k| k.trim().to_owned());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    async move {
        let (Some(key), Some(state)) = (key, state) else {
            return Err(ApiError::Unauthorized);
        };
        let key_hash = hash(&key);
        if let Some(client) = state.auth_cache.get(&key_hash) {
            return Ok(ApiClient(client));
        }
        let pool = state.pool.clone();
        let client = web::block(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            authenticate(&mut conn, &key)
        })
        .await
        .map_err(|_| ApiError::Store(StoreError::Cancelled))??;
        state.auth_cache.put(key_hash, client.clone());
        Ok(ApiClient(client))
    }
}

/// Middleware on every `/v1` route (`wrap = "from_fn(require_api_key)"`): the key is checked
/// before any extractor reads the path, query or body. Actix polls a handler's extractors
/// together and answers the first error, so without it a request with a wrong key and a
/// malformed query was answered 422 (the query fails at once, the key lookup waits for the
/// database): a caller without a valid key must learn nothing but 401.
pub async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match authenticate_request(req.request()).await {
        Ok(client) => {
            req.extensions_mut().insert(client);
            Ok(next.call(req).await?.map_into_left_body())
        }
        // Answered here rather than returned as an error, so the outer middlewares (the
        // request id) see an ordinary response.
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
    }
}

impl FromRequest for ApiClient {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        // Behind `require_api_key` the client is already known; a route without it still
        // authenticates, only later.
        if let Some(client) = req.extensions().get::<ApiClient>().cloned() {
            return Box::pin(std::future::ready(Ok(client)));
        }
        Box::pin(authenticate_request(req))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(id: &str) -> ApiClientRow {
        ApiClientRow {
            id: id.to_owned(),
            name: "app".into(),
            redirect_allowlist: "[]".into(),
            created_at: store::now(),
            disabled_at: None,
        }
    }

    #[test]
    fn the_auth_cache_answers_only_for_remembered_hashes_and_forgets_after_the_ttl() {
        let cache = AuthCache::default();
        cache.put(hash("pas_a_1"), client("c-1"));
        assert_eq!(cache.get(&hash("pas_a_1")).unwrap().id, "c-1");
        assert!(cache.get(&hash("pas_a_2")).is_none());

        // An entry older than the TTL is not used: the database is asked again.
        let old = Instant::now().checked_sub(AUTH_CACHE_TTL + Duration::from_millis(1));
        if let Some(old) = old {
            cache
                .entries
                .lock()
                .unwrap()
                .insert(hash("pas_b_1"), (old, client("c-2")));
            assert!(cache.get(&hash("pas_b_1")).is_none());
        }
    }

    #[test]
    fn a_full_auth_cache_starts_over_instead_of_growing() {
        let cache = AuthCache::default();
        for n in 0..=AUTH_CACHE_MAX {
            cache.put(format!("{n:064x}"), client("c"));
        }
        assert!(cache.entries.lock().unwrap().len() <= AUTH_CACHE_MAX);
    }
}
