//! django_bolt._core: wires the modules; each module owns one concern.

pub mod bridge;
pub mod dispatch;
pub mod fastpath;
pub mod form;
pub mod job;
pub mod router;
pub mod server;
pub mod testing;

use pyo3::prelude::*;

// Request handling allocates many small short-lived buffers; mimalloc keeps that cheap.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<bridge::Bridge>()?;
    m.add_class::<job::Job>()?;
    m.add_class::<fastpath::FastPlan>()?;
    m.add_class::<job::StreamWriter>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<testing::TestApp>()?;
    m.add_function(wrap_pyfunction!(server::use_batch_scheduling, m)?)?;
    m.add("DJANGO_FALLBACK", job::DJANGO_FALLBACK)?;
    Ok(())
}
