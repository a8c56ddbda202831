//! What every request handler, service and worker shares.

use std::sync::Arc;

use crate::api::auth::AuthCache;
use crate::api::feed_cache::FeedPageCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Keyring;
use crate::registry::Registry;
use crate::store::Pool;

/// What every request handler shares.
pub struct AppState {
    /// Validated settings.
    pub config: Arc<Config>,
    /// The database pool.
    pub pool: Pool,
    /// The bank registry.
    pub registry: Arc<Registry>,
    /// The keys that seal tokens at rest.
    pub keyring: Arc<Keyring>,
    /// API keys that authenticated in the last few seconds (see [`AUTH_CACHE_TTL`]).
    ///
    /// [`AUTH_CACHE_TTL`]: crate::api::auth::AUTH_CACHE_TTL
    pub auth_cache: AuthCache,
    /// Serialized transaction-feed pages, validated against the account's feed version.
    pub feed_cache: Arc<FeedPageCache>,
    /// The one clock every service reads (tests move it, with the sandbox's).
    pub clock: Clock,
}

impl AppState {
    /// What the services outside a request (syncs, payments) take from the state.
    pub fn sync_context(&self) -> crate::sync::service::SyncContext {
        crate::sync::service::SyncContext {
            pool: self.pool.clone(),
            config: self.config.clone(),
            keyring: self.keyring.clone(),
            clock: self.clock.clone(),
        }
    }
}
