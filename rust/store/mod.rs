//! The rate-limit and revocation store: in this process or in Redis.

pub mod backend;
pub mod errors;
pub mod local;
pub mod redis;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<backend::Backend>()?;
    Ok(())
}
