//! Python's handle on the bridge: the event loop watches `fileno()` and calls
//! `run_ready()`; worker threads call `next_blocking()`.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyAny, PyList};

use super::fastpath;
use super::queue::{BridgeCore, Work};

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Bridge {
    pub core: Arc<BridgeCore>,
}

#[pymethods]
impl Bridge {
    #[new]
    fn py_new() -> PyResult<Self> {
        Ok(Self {
            core: Arc::new(BridgeCore::new()?),
        })
    }

    fn fileno(&self) -> i32 {
        self.core.wake.fd()
    }

    /// Drains the queued jobs and runs each: through its route's FastPlan when
    /// `plans[route_id]` is one, otherwise through `host.run_slow(job)`.
    fn run_ready(
        &self,
        py: Python<'_>,
        plans: &Bound<'_, PyList>,
        host: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        fastpath::run_ready(py, self.core.take_pending(), plans, host)
    }

    /// Ids of the streams notified since the last call (call after `run_ready`).
    fn take_ready_streams(&self) -> Vec<u64> {
        self.core.wake.take_ready_streams()
    }

    /// Waits (GIL released) for the next piece of blocking work: a `Job`, or a callable
    /// given to `defer`; None on timeout or once closed.
    #[pyo3(signature = (timeout=0.5))]
    fn next_blocking(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Py<PyAny>>> {
        let wait = Duration::from_secs_f64(timeout.max(0.0));
        Ok(match py.detach(|| self.core.next_blocking(wait)) {
            Some(Work::Job(job)) => Some(Py::new(py, job)?.into_any()),
            Some(Work::Call(call)) => Some(call),
            None => None,
        })
    }

    /// Hands `call` (no arguments) to the worker threads, which run it as they run
    /// jobs; False once the bridge is closed.
    fn defer(&self, call: Py<PyAny>) -> bool {
        self.core.defer(call)
    }

    /// Stops accepting work: blocking workers see None once the channel is empty.
    fn close(&self) {
        self.core.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.core.is_closed()
    }

    /// How many requests Rust has handed to Python.
    #[getter]
    fn handed_over(&self) -> u64 {
        self.core.handed_over()
    }
}
