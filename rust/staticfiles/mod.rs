//! Static files (`STATIC_ROOT` at `STATIC_URL`, and optionally media) served from Rust:
//! an index of the directory built once at start, answers with conditional and range
//! requests and precompressed siblings, and nothing outside the indexed files.

pub mod encoding;
pub mod index;
pub mod precompress;
pub mod serve;
pub mod static_files;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<static_files::StaticFiles>()?;
    m.add_function(wrap_pyfunction!(precompress::precompress, m)?)?;
    Ok(())
}
