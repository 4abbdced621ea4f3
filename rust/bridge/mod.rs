//! Between Actix and Python: the queue requests wait in, the job Python answers, the
//! streams it writes, and the fast path that runs simple async routes from Rust.

pub mod fastpath;
pub mod handle;
pub mod input;
pub mod job;
pub mod parts;
pub mod queue;
pub mod response_args;
pub mod stream;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<handle::Bridge>()?;
    m.add_class::<job::Job>()?;
    m.add_class::<input::RequestInput>()?;
    m.add_class::<fastpath::FastPlan>()?;
    m.add_class::<stream::StreamWriter>()?;
    m.add("DJANGO_FALLBACK", parts::DJANGO_FALLBACK)?;
    Ok(())
}
