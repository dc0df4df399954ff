//! A short-lived cache of what connectors answered, by tenant, connector
//! and contact, timed by the inbox's clock (tests move it by hand).

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

/// Entries kept at most; past it the oldest are dropped.
const MAX_ENTRIES: usize = 20_000;

/// A cached value with when it was fetched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cached<V> {
    pub(crate) fetched_at: DateTime<Utc>,
    pub(crate) value: V,
}

/// Values by key, fresh for `ttl` after they were fetched; a stale one is
/// still returned (marked stale) for when a fresh one cannot be had in time.
#[derive(Debug)]
pub(crate) struct Cache<K, V> {
    ttl: TimeDelta,
    entries: Mutex<HashMap<K, Cached<V>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> Cache<K, V> {
    pub(crate) fn new(ttl: TimeDelta) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `key`, however old.
    pub(crate) fn get(&self, key: &K) -> Option<Cached<V>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    /// Whether a value fetched at `fetched_at` is still fresh at `now`.
    pub(crate) fn fresh(&self, fetched_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        fetched_at <= now && now - fetched_at < self.ttl
    }

    pub(crate) fn put(&self, key: K, fetched_at: DateTime<Utc>, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            let cutoff = fetched_at - self.ttl;
            entries.retain(|_, c| c.fetched_at > cutoff);
            if entries.len() >= MAX_ENTRIES {
                let mut times: Vec<DateTime<Utc>> =
                    entries.values().map(|c| c.fetched_at).collect();
                times.sort_unstable();
                let median = times[times.len() / 2];
                entries.retain(|_, c| c.fetched_at > median);
            }
        }
        entries.insert(key, Cached { fetched_at, value });
    }

    /// Forgets every entry `drop` matches (a tenant's, after its settings
    /// or credentials changed).
    pub(crate) fn forget(&self, drop: impl Fn(&K) -> bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|k, _| !drop(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_fresh_for_the_ttl_then_stale() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let cache = Cache::new(TimeDelta::seconds(60));
        cache.put("k", t0, 1);
        let hit = cache.get(&"k").unwrap();
        assert_eq!((hit.value, hit.fetched_at), (1, t0));
        assert!(cache.fresh(t0, t0 + TimeDelta::seconds(59)));
        assert!(!cache.fresh(t0, t0 + TimeDelta::seconds(60)));
        cache.forget(|k| *k == "k");
        assert!(cache.get(&"k").is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let cache = Cache::new(TimeDelta::seconds(60));
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(i, t0 + TimeDelta::milliseconds(i as i64), i);
        }
        let len = cache.entries.lock().unwrap().len();
        assert!(len <= MAX_ENTRIES, "{len}");
        assert!(cache.get(&(MAX_ENTRIES + 9)).is_some());
    }
}
