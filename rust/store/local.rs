//! The in-process store: token buckets and revoked token ids in this process's memory.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Allowed,
    /// Seconds until one token is available again.
    Limited(f64),
}

/// Beyond this many buckets, idle full buckets are dropped (a full bucket is the same as
/// no bucket), so a flood of distinct clients cannot grow memory without bound.
const MAX_LOCAL_BUCKETS: usize = 100_000;

#[derive(Default)]
pub struct LocalStore {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    revoked: Mutex<HashMap<String, u64>>,
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl LocalStore {
    pub fn take(&self, key: &str, rate: f64, burst: f64) -> Decision {
        let now = Instant::now();
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_LOCAL_BUCKETS && !buckets.contains_key(key) {
            buckets.retain(|_, (tokens, last)| {
                *tokens + now.duration_since(*last).as_secs_f64() * rate < burst
            });
        }
        let (tokens, last) = buckets.entry(key.to_owned()).or_insert((burst, now));
        let refilled = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Decision::Allowed
        } else {
            *tokens = refilled;
            Decision::Limited((1.0 - refilled) / rate)
        }
    }

    pub fn revoke(&self, jti: &str, expires_at: u64) {
        let now = unix_now();
        let mut revoked = self.revoked.lock();
        revoked.retain(|_, exp| *exp > now);
        revoked.insert(jti.to_owned(), expires_at);
    }

    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked
            .lock()
            .get(jti)
            .is_some_and(|exp| *exp > unix_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_allows_burst_then_limits() {
        let store = LocalStore::default();
        for _ in 0..3 {
            assert_eq!(store.take("k", 1.0, 3.0), Decision::Allowed);
        }
        match store.take("k", 1.0, 3.0) {
            Decision::Limited(wait) => assert!(wait > 0.9 && wait <= 1.0),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.take("other", 1.0, 3.0), Decision::Allowed);
    }

    #[test]
    fn revocation_expires() {
        let store = LocalStore::default();
        store.revoke("a", unix_now() + 60);
        store.revoke("b", unix_now().saturating_sub(1));
        assert!(store.is_revoked("a"));
        assert!(!store.is_revoked("b"));
        assert!(!store.is_revoked("c"));
    }
}
