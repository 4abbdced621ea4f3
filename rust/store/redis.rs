//! The Redis store: token buckets (one Lua script per take) and revoked token ids shared
//! by every process and machine. Redis calls run on a small runtime of their own
//! (created on first use, after any fork), so Actix workers only await a reply.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::errors::{RedisUrlError, StoreError};
use super::local::{unix_now, Decision};

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

/// A Redis call (connecting included) gets this long; then it fails, and the rate limit
/// or revocation check that needed it takes its documented course (fail open).
pub const CALL_TIMEOUT: Duration = Duration::from_millis(500);
/// After a failed call, calls fail at once for this long: while Redis is down or hung,
/// one request per pause waits on it, not every request.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// After a failure, calls to one Redis fail at once for `PAUSE_AFTER_FAILURE`.
#[derive(Default)]
pub struct Pause {
    /// Until when (Unix milliseconds) calls fail without trying.
    until: AtomicU64,
}

impl Pause {
    pub fn paused(&self) -> bool {
        unix_millis() < self.until.load(Ordering::Relaxed)
    }

    /// Notes a call's outcome: a failure starts a pause.
    pub fn after<T, E>(&self, result: &Result<T, E>) {
        if result.is_err() {
            let until = unix_millis() + PAUSE_AFTER_FAILURE.as_millis() as u64;
            self.until.store(until, Ordering::Relaxed);
        }
    }
}

pub struct RedisStore {
    url: String,
    prefix: String,
    conn: OnceCell<redis::aio::ConnectionManager>,
    script: redis::Script,
    pause: Pause,
}

fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisUrlError> {
        redis::Client::open(url).map_err(RedisUrlError)?;
        Ok(Self {
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            conn: OnceCell::new(),
            script: redis::Script::new(TOKEN_BUCKET),
            pause: Pause::default(),
        })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, StoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let url = self.url.clone();
                redis_runtime()
                    .spawn(async move {
                        let client = redis::Client::open(url).map_err(StoreError::Connect)?;
                        let config = redis::aio::ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(CALL_TIMEOUT))
                            .set_response_timeout(Some(CALL_TIMEOUT))
                            .set_number_of_retries(0);
                        client
                            .get_connection_manager_with_config(config)
                            .await
                            .map_err(StoreError::Connect)
                    })
                    .await
                    .map_err(StoreError::Task)?
            })
            .await?;
        Ok(conn.clone())
    }

    /// Runs `f` with a connection on the Redis runtime and awaits its answer here, within
    /// `CALL_TIMEOUT`; a failure pauses calls for `PAUSE_AFTER_FAILURE`.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(redis::aio::ConnectionManager) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = redis::RedisResult<T>> + Send + 'static,
    {
        if self.pause.paused() {
            return Err(StoreError::Paused);
        }
        let result = match self.connection().await {
            Ok(conn) => redis_runtime()
                .spawn(async move { tokio::time::timeout(CALL_TIMEOUT, f(conn)).await })
                .await
                .map_err(StoreError::Task)
                .and_then(|answer| match answer {
                    Ok(answer) => answer.map_err(StoreError::Command),
                    Err(_) => Err(StoreError::TimedOut),
                }),
            Err(e) => Err(e),
        };
        self.pause.after(&result);
        result
    }

    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Decision, StoreError> {
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

    pub async fn revoke(&self, jti: &str, expires_at: u64) -> Result<(), StoreError> {
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

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
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
