//! Shared state behind one interface: rate-limit buckets and revoked token ids.
//!
//! `Store::Local` keeps them in this process; `Store::Redis` keeps them in Redis so every
//! process and machine sees the same limits and revocations. Redis calls run on a small
//! runtime of their own (created on first use, after any fork), so Actix workers only
//! await a reply.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::OnceCell;

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

fn unix_now() -> u64 {
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

const TOKEN_BUCKET: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(v[1])
local ts = tonumber(v[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"#;

pub struct RedisStore {
    url: String,
    prefix: String,
    conn: OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
}

pub(crate) fn redis_runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bolt-redis")
            .enable_all()
            .build()
            .expect("cannot start the Redis runtime")
    })
}

impl RedisStore {
    pub fn new(url: &str, prefix: &str) -> Result<Self, String> {
        redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        Ok(Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            conn: OnceCell::new(),
            script: redis::Script::new(TOKEN_BUCKET),
        })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, String> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let url = self.url.clone();
                redis_runtime()
                    .spawn(async move {
                        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
                        let config = redis::aio::ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(Duration::from_secs(2)))
                            .set_response_timeout(Some(Duration::from_secs(2)))
                            .set_number_of_retries(2);
                        client
                            .get_connection_manager_with_config(config)
                            .await
                            .map_err(|e| e.to_string())
                    })
                    .await
                    .map_err(|e| e.to_string())?
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs `f` with a connection on the Redis runtime and awaits its answer here.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, String>
    where
        T: Send + 'static,
        F: FnOnce(redis::aio::ConnectionManager) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        let conn = self.connection().await?;
        redis_runtime()
            .spawn(f(conn))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("Redis: {e}"))
    }

    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Decision, String> {
        let key = format!("{}rl:{key}", self.prefix);
        let script = self.script.clone();
        let wait: String = self
            .run(move |mut conn| async move {
                script
                    .key(key)
                    .arg(rate)
                    .arg(burst)
                    .invoke_async(&mut conn)
                    .await
            })
            .await?;
        let wait: f64 = wait.parse().unwrap_or(0.0);
        Ok(if wait > 0.0 {
            Decision::Limited(wait)
        } else {
            Decision::Allowed
        })
    }

    pub async fn revoke(&self, jti: &str, expires_at: u64) -> Result<(), String> {
        let key = format!("{}revoked:{jti}", self.prefix);
        let ttl = expires_at.saturating_sub(unix_now()).max(1);
        self.run(move |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("EX")
                .arg(ttl)
                .query_async::<()>(&mut conn)
                .await
        })
        .await
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, String> {
        let key = format!("{}revoked:{jti}", self.prefix);
        self.run(move |mut conn| async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<bool>(&mut conn)
                .await
        })
        .await
    }
}

#[derive(Clone)]
pub enum Store {
    Local(Arc<LocalStore>),
    Redis(Arc<RedisStore>),
}

impl Store {
    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Decision, String> {
        match self {
            Store::Local(s) => Ok(s.take(key, rate, burst)),
            Store::Redis(s) => s.take(key, rate, burst).await,
        }
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, String> {
        match self {
            Store::Local(s) => Ok(s.is_revoked(jti)),
            Store::Redis(s) => s.is_revoked(jti).await,
        }
    }

    pub async fn revoke(&self, jti: &str, expires_at: u64) -> Result<(), String> {
        match self {
            Store::Local(s) => {
                s.revoke(jti, expires_at);
                Ok(())
            }
            Store::Redis(s) => s.revoke(jti, expires_at).await,
        }
    }
}

/// Where a JWT authenticator checks revoked token ids (`jti`).
#[derive(Clone)]
pub enum Revocation {
    /// Checked in Rust against a store.
    Store(Store),
    /// Checked by a Python revocation object (Django cache or ORM) before the handler.
    Python,
}

/// Python handle on a store, used to configure routes and to revoke tokens.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct Backend {
    pub store: Store,
}

fn block_on<T>(fut: impl std::future::Future<Output = Result<T, String>>) -> PyResult<T> {
    futures_executor::block_on(fut).map_err(PyConnectionError::new_err)
}

#[pymethods]
impl Backend {
    /// An in-process store.
    #[staticmethod]
    fn local() -> Self {
        Self {
            store: Store::Local(Arc::new(LocalStore::default())),
        }
    }

    /// A Redis store; keys are prefixed with `prefix`. Connects on first use.
    #[staticmethod]
    #[pyo3(signature = (url, prefix="bolt:"))]
    fn redis(url: &str, prefix: &str) -> PyResult<Self> {
        Ok(Self {
            store: Store::Redis(Arc::new(
                RedisStore::new(url, prefix).map_err(PyValueError::new_err)?,
            )),
        })
    }

    #[getter]
    fn kind(&self) -> &'static str {
        match self.store {
            Store::Local(_) => "local",
            Store::Redis(_) => "redis",
        }
    }

    /// Takes one token from bucket `key`; returns 0.0 when allowed, else the seconds to wait.
    fn take(&self, py: Python<'_>, key: &str, rate: f64, burst: f64) -> PyResult<f64> {
        let store = self.store.clone();
        let decision = py.detach(|| block_on(store.take(key, rate, burst)))?;
        Ok(match decision {
            Decision::Allowed => 0.0,
            Decision::Limited(wait) => wait.max(f64::MIN_POSITIVE),
        })
    }

    /// Marks token id `jti` revoked until `expires_at` (a UNIX time).
    fn revoke(&self, py: Python<'_>, jti: &str, expires_at: u64) -> PyResult<()> {
        let store = self.store.clone();
        py.detach(|| block_on(store.revoke(jti, expires_at)))
    }

    fn is_revoked(&self, py: Python<'_>, jti: &str) -> PyResult<bool> {
        let store = self.store.clone();
        py.detach(|| block_on(store.is_revoked(jti)))
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
