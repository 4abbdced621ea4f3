//! A route's security and middleware policy, compiled once from the Python declaration
//! and applied in Rust before any Python runs.

pub mod compile;
pub mod gate;
pub mod guards;
pub mod identity;
pub mod preflight;
pub mod proxies;
pub mod rate_limit;
pub mod route_policy;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<route_policy::RoutePolicy>()?;
    Ok(())
}
