//! Serialized pages of the transactions feed, kept in memory under the account's feed version.
//!
//! The feed (`GET /v1/accounts/{id}/transactions`) is the API's hottest read, and its pages
//! change only when a sync writes the account's transactions: a budgeting app polls the same
//! first page far more often than the bank is read (four times a day at most). So the
//! serialized JSON of a page is kept under a key that holds the account's `feed_version`, a
//! value the database's triggers change on every insert, update or delete of one of the
//! account's transactions, whichever process writes it. Every request still reads that version
//! (with the tenancy check, in the same query), so a page that changed is never served from
//! here, and nothing is kept that another instance would need: each `serve` process has its own
//! cache, all validated against the one database.
//!
//! Memory is bounded in bytes; the oldest page goes first. Pages of versions that moved on are
//! never read again and age out the same way.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{NaiveDate, NaiveDateTime};

/// What a page of the feed depends on: the account and its feed version, and the query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FeedPageKey {
    /// The account.
    pub account_id: String,
    /// The account's feed version when the page was read.
    pub feed_version: i64,
    /// `from`, inclusive.
    pub from: Option<NaiveDate>,
    /// `to`, inclusive.
    pub to: Option<NaiveDate>,
    /// `status`.
    pub status: Option<String>,
    /// `updated_since`.
    pub updated_since: Option<NaiveDateTime>,
    /// Page size.
    pub limit: i64,
    /// The decoded cursor (sort date and id of the previous page's last row).
    pub cursor: Option<(NaiveDate, String)>,
}

/// What an entry costs besides its key and page: the map's and the queue's slots and the
/// page's handle, rounded up.
const ENTRY_OVERHEAD: usize = 128;

/// The shape of the feed's JSON: part of every entity tag, so a release that changes the
/// serialization does not answer 304 to a page of the old shape.
const FEED_FORMAT: &str = "feed-v1";

impl FeedPageKey {
    /// The page's entity tag (quoted, as it goes in an `ETag` header): 128 bits of the SHA-256 of
    /// everything the page depends on, the account's feed version and the query. The version is
    /// random per write (see the migration), so the tag changes whenever the account's
    /// transactions do and never comes back, and it is known before any row is read, so a 304
    /// costs only the tenancy check. A write that leaves this particular page as it was still
    /// changes the tag: the app then reads the page once more.
    pub fn etag(&self) -> String {
        let canonical = format!(
            "{FEED_FORMAT}\n{}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{}\n{:?}",
            self.account_id,
            self.feed_version,
            self.from,
            self.to,
            self.status,
            self.updated_since,
            self.limit,
            self.cursor
        );
        let digest = openssl::sha::sha256(canonical.as_bytes());
        format!("\"{}\"", hex::encode(&digest[..16]))
    }

    /// Roughly what one copy of the key costs in memory.
    fn weight(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.account_id.len()
            + self.status.as_ref().map_or(0, String::len)
            + self.cursor.as_ref().map_or(0, |(_, id)| id.len())
    }
}

/// What an entry costs against the budget: the key twice (the map and the eviction queue each
/// hold one), the page, and the slots.
fn entry_weight(key: &FeedPageKey, page: &Bytes) -> usize {
    2 * key.weight() + page.len() + ENTRY_OVERHEAD
}

/// How the cache is doing, for tests and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedCacheStats {
    /// Pages held.
    pub pages: usize,
    /// Bytes counted against the capacity.
    pub bytes: usize,
    /// Lookups that found their page, since start.
    pub hits: u64,
    /// Lookups that did not, since start.
    pub misses: u64,
}

/// Serialized feed pages, bounded in bytes (see the module's documentation).
#[derive(Debug)]
pub struct FeedPageCache {
    capacity: usize,
    inner: Mutex<Pages>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Default)]
struct Pages {
    by_key: HashMap<FeedPageKey, Bytes>,
    /// Insertion order, oldest first: the eviction order.
    order: VecDeque<FeedPageKey>,
    /// Bytes held by `by_key`, keys included.
    bytes: usize,
}

impl FeedPageCache {
    /// A cache holding at most `capacity` bytes of pages; 0 keeps nothing.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Pages::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The page stored under `key`, if any. Cloning [`Bytes`] shares the buffer.
    pub fn get(&self, key: &FeedPageKey) -> Option<Bytes> {
        let found = if self.capacity == 0 {
            None
        } else {
            self.lock().by_key.get(key).cloned()
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `page` under `key`, evicting the oldest pages to stay within the capacity. A page
    /// larger than an eighth of the capacity is not kept: it would push out many others.
    pub fn insert(&self, key: FeedPageKey, page: Bytes) {
        let weight = entry_weight(&key, &page);
        if weight > self.capacity / 8 {
            return;
        }
        let mut pages = self.lock();
        if pages.by_key.contains_key(&key) {
            // Two requests missed at once and read the same rows: the first copy stays.
            return;
        }
        while pages.bytes + weight > self.capacity {
            let Some(oldest) = pages.order.pop_front() else {
                break;
            };
            if let Some(evicted) = pages.by_key.remove(&oldest) {
                pages.bytes -= entry_weight(&oldest, &evicted);
            }
        }
        pages.bytes += weight;
        pages.order.push_back(key.clone());
        pages.by_key.insert(key, page);
    }

    /// Pages and bytes held, hits and misses since start.
    pub fn stats(&self) -> FeedCacheStats {
        let pages = self.lock();
        FeedCacheStats {
            pages: pages.by_key.len(),
            bytes: pages.bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pages> {
        // A poisoned lock only means a thread panicked while holding it. Nothing between the
        // updates of the map, the queue and the byte count can panic (no allocation failure is
        // recoverable anyway), so what the lock guards stays consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn page(body: &'static [u8]) -> Bytes {
        Bytes::from_static(body)
    }

    fn key(account: &str, version: i64) -> FeedPageKey {
        FeedPageKey {
            account_id: account.into(),
            feed_version: version,
            from: None,
            to: None,
            status: None,
            updated_since: None,
            limit: 100,
            cursor: None,
        }
    }

    #[test]
    fn a_page_is_found_only_under_its_exact_key_and_lookups_are_counted() {
        let cache = FeedPageCache::new(1 << 20);
        cache.insert(key("a", 1), page(b"[1]"));
        assert_eq!(cache.get(&key("a", 1)).unwrap(), page(b"[1]"));
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 0));
        assert!(cache.get(&key("a", 2)).is_none(), "another feed version");
        assert!(cache.get(&key("b", 1)).is_none(), "another account");
        let mut other_query = key("a", 1);
        other_query.limit = 50;
        assert!(cache.get(&other_query).is_none(), "another page size");
        let mut other_cursor = key("a", 1);
        other_cursor.cursor = NaiveDate::from_ymd_opt(2026, 1, 1).map(|d| (d, "t".into()));
        assert!(cache.get(&other_cursor).is_none(), "another cursor");
        assert_eq!((cache.stats().hits, cache.stats().misses), (1, 4));
    }

    #[test]
    fn the_oldest_pages_go_first_and_the_byte_count_stays_within_capacity() {
        let page = Bytes::from(vec![b'x'; 1000]);
        let weight = entry_weight(&key("a", 0), &page);
        let cache = FeedPageCache::new(weight * 8 + weight / 2);
        for version in 0..20 {
            cache.insert(key("a", version), page.clone());
            assert!(cache.stats().bytes <= weight * 8 + weight / 2);
        }
        let stats = cache.stats();
        assert_eq!(stats.pages, 8);
        assert_eq!(stats.bytes, weight * 8);
        assert!(cache.get(&key("a", 11)).is_none(), "evicted");
        assert!(cache.get(&key("a", 12)).is_some(), "kept");
        assert!(cache.get(&key("a", 19)).is_some(), "kept");
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing_and_an_oversized_page_is_not_kept() {
        let off = FeedPageCache::new(0);
        off.insert(key("a", 1), page(b"[]"));
        assert!(off.get(&key("a", 1)).is_none());
        assert_eq!((off.stats().pages, off.stats().bytes), (0, 0));

        let small = FeedPageCache::new(8_000);
        small.insert(key("a", 1), Bytes::from(vec![0u8; 1_500]));
        assert!(
            small.get(&key("a", 1)).is_none(),
            "over an eighth of the capacity"
        );
    }

    #[test]
    fn the_entity_tag_names_the_version_and_the_query() {
        let tag = key("a", 1).etag();
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(tag, key("a", 1).etag(), "same page, same tag");
        assert_ne!(tag, key("a", 2).etag(), "another version");
        assert_ne!(tag, key("b", 1).etag(), "another account");
        let mut other = key("a", 1);
        other.status = Some("pending".into());
        assert_ne!(tag, other.etag(), "another query");
    }

    #[test]
    fn a_second_insert_under_the_same_key_keeps_the_first_and_counts_once() {
        let cache = FeedPageCache::new(1 << 20);
        cache.insert(key("a", 1), page(b"first"));
        let before = cache.stats().bytes;
        cache.insert(key("a", 1), page(b"second"));
        assert_eq!(cache.get(&key("a", 1)).unwrap(), page(b"first"));
        assert_eq!((cache.stats().pages, cache.stats().bytes), (1, before));
    }
}
