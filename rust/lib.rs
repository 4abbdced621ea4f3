//! django_bolt._core: wires the modules; each module owns one concern and registers its
//! own Python classes and functions.
//!
//! Imports point one way, bottom to top: `http`, `logs`, `metrics` and `wake` are the floor; `store`, then
//! `auth`, then `policy` and `router` above them; `ws`, then `bridge`; `staticfiles`;
//! `server` on top.

mod auth;
mod bridge;
mod http;
mod logs;
mod metrics;
mod policy;
mod router;
mod server;
mod staticfiles;
mod store;
mod wake;
mod ws;

use pyo3::prelude::*;

// Request handling allocates many small short-lived buffers; mimalloc keeps that cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    bridge::register(m)?;
    server::register(m)?;
    policy::register(m)?;
    store::register(m)?;
    ws::register(m)?;
    auth::register(m)?;
    staticfiles::register(m)?;
    logs::register(m)?;
    metrics::register(m)?;
    Ok(())
}
