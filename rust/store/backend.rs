//! Shared state behind one interface: rate-limit buckets and revoked token ids.
//!
//! `Store::Local` keeps them in this process; `Store::Redis` keeps them in Redis so every
//! process and machine sees the same limits and revocations.

use std::sync::Arc;

use pyo3::prelude::*;

use super::errors::StoreError;
use super::local::{Decision, LocalStore};
use super::redis::RedisStore;

#[derive(Clone)]
pub enum Store {
    Local(Arc<LocalStore>),
    Redis(Arc<RedisStore>),
}

impl Store {
    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Result<Decision, StoreError> {
        match self {
            Store::Local(s) => Ok(s.take(key, rate, burst)),
            Store::Redis(s) => s.take(key, rate, burst).await,
        }
    }

    pub async fn is_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        match self {
            Store::Local(s) => Ok(s.is_revoked(jti)),
            Store::Redis(s) => s.is_revoked(jti).await,
        }
    }

    pub async fn revoke(&self, jti: &str, expires_at: u64) -> Result<(), StoreError> {
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

fn block_on<T>(fut: impl std::future::Future<Output = Result<T, StoreError>>) -> PyResult<T> {
    Ok(futures_executor::block_on(fut)?)
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
            store: Store::Redis(Arc::new(RedisStore::new(url, prefix)?)),
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
