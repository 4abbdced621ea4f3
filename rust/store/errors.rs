//! What a store can fail with.

use std::fmt;

use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::PyErr;

/// A store that could not be reached or did not answer (ConnectionError).
#[derive(Debug)]
pub enum StoreError {
    /// No connection to Redis.
    Connect(redis::RedisError),
    /// A Redis command failed.
    Command(redis::RedisError),
    /// The Redis runtime dropped the call.
    Task(tokio::task::JoinError),
    /// Redis did not answer within the call timeout.
    TimedOut,
    /// A recent call failed: calls fail at once for a moment.
    Paused,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "{e}"),
            Self::Command(e) => write!(f, "Redis: {e}"),
            Self::Task(e) => write!(f, "{e}"),
            Self::TimedOut => write!(f, "Redis did not answer in time"),
            Self::Paused => write!(f, "Redis failed a moment ago; not asked again yet"),
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// Reports the error (`django_bolt.store`), at most once every ten seconds.
    pub fn log(&self) {
        use std::sync::atomic::{AtomicU64, Ordering};
        static LAST: AtomicU64 = AtomicU64::new(0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if LAST.swap(now, Ordering::Relaxed) + 10 <= now {
            crate::logs::log(
                "django_bolt.store",
                crate::logs::ERROR,
                format!("shared store error: {self}"),
            );
        }
    }
}

impl From<StoreError> for PyErr {
    fn from(e: StoreError) -> Self {
        PyConnectionError::new_err(e.to_string())
    }
}

/// A Redis URL that does not parse (ValueError).
#[derive(Debug)]
pub struct RedisUrlError(pub redis::RedisError);

impl fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Redis URL: {}", self.0)
    }
}

impl std::error::Error for RedisUrlError {}

impl From<RedisUrlError> for PyErr {
    fn from(e: RedisUrlError) -> Self {
        PyValueError::new_err(e.to_string())
    }
}
