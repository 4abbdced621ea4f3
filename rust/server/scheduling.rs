//! SCHED_BATCH for the threads that hand work to each other.

use pyo3::prelude::*;

/// Puts the calling thread under SCHED_BATCH: a woken thread then does not preempt the
/// running one, so the Actix thread and the Python thread each finish a batch of work
/// before handing over instead of switching once per request.
pub fn set_batch_scheduling() {
    // SAFETY: sched_param is plain data; pid 0 means the calling thread.
    unsafe {
        let param: libc::sched_param = std::mem::zeroed();
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
}

/// Python-callable form, for the thread that runs the event loop.
#[pyfunction]
pub fn use_batch_scheduling() {
    set_batch_scheduling();
}
