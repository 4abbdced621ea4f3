//! The hand-off between Actix threads and Python.
//!
//! Actix threads never take the GIL. Requests for async handlers go into a queue that
//! the Python event loop drains in batches: the first request of a batch writes to an
//! eventfd the loop watches, later ones only append. Requests for sync handlers and the
//! Django fallback go to a channel read by Python worker threads that wait in Rust with
//! the GIL released. Python answers through the job's one-shot reply channel.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pyo3::prelude::*;
use pyo3::types::{PyAny, PyList};

use crate::job::Job;

pub struct BridgeCore {
    event_fd: libc::c_int,
    pending: Mutex<Vec<Job>>,
    wake_scheduled: AtomicBool,
    blocking_tx: Mutex<Option<Sender<Job>>>,
    blocking_rx: Receiver<Job>,
    closed: AtomicBool,
    /// Requests handed to Python so far (tests and the bench use it to show that
    /// rejected requests never reach Python).
    handed_over: AtomicU64,
    /// Streams whose consumer made room (or went away) since the last drain.
    ready_streams: Mutex<Vec<u64>>,
}

impl BridgeCore {
    fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned by this struct and closed in Drop.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok(Self {
            event_fd: fd,
            pending: Mutex::new(Vec::with_capacity(256)),
            wake_scheduled: AtomicBool::new(false),
            blocking_tx: Mutex::new(Some(tx)),
            blocking_rx: rx,
            closed: AtomicBool::new(false),
            handed_over: AtomicU64::new(0),
            ready_streams: Mutex::new(Vec::new()),
        })
    }

    /// Queues a job for the event loop; false (and the job dropped) once closed.
    pub fn submit_async(&self, job: Job) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        self.handed_over.fetch_add(1, Ordering::Relaxed);
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(job);
        if !self.wake_scheduled.swap(true, Ordering::AcqRel) {
            self.signal();
        }
        true
    }

    /// Queues a job for the blocking worker threads; false (and the job dropped) once
    /// closed.
    pub fn submit_blocking(&self, job: Job) -> bool {
        self.handed_over.fetch_add(1, Ordering::Relaxed);
        let guard = self.blocking_tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }

    /// Tells the event loop that stream `id` can take more data or has ended.
    pub fn notify_stream(&self, id: u64) {
        self.ready_streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(id);
        if !self.wake_scheduled.swap(true, Ordering::AcqRel) {
            self.signal();
        }
    }

    fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our own eventfd.
        unsafe {
            libc::write(
                self.event_fd,
                &one as *const u64 as *const libc::c_void,
                std::mem::size_of::<u64>(),
            );
        }
    }

    pub(crate) fn take_pending(&self) -> Vec<Job> {
        let mut counter: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our own non-blocking eventfd.
        unsafe {
            libc::read(
                self.event_fd,
                &mut counter as *mut u64 as *mut libc::c_void,
                std::mem::size_of::<u64>(),
            );
        }
        self.wake_scheduled.store(false, Ordering::Release);
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *pending)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.blocking_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.signal();
    }
}

impl Drop for BridgeCore {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened in `new` and is closed exactly once.
        unsafe {
            libc::close(self.event_fd);
        }
    }
}

/// Python's handle on the bridge: the event loop watches `fileno()` and calls `drain()`;
/// worker threads call `next_blocking()`.
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
        self.core.event_fd
    }

    /// Drains the queued jobs and runs each: through its route's FastPlan when
    /// `plans[route_id]` is one, otherwise through `host.run_slow(job)`.
    fn run_ready(
        &self,
        py: Python<'_>,
        plans: &Bound<'_, PyList>,
        host: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        crate::fastpath::run_ready(py, self.core.take_pending(), plans, host)
    }

    /// Ids of the streams notified since the last call (call after `run_ready`).
    fn take_ready_streams(&self) -> Vec<u64> {
        std::mem::take(
            &mut *self
                .core
                .ready_streams
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Waits (GIL released) for the next blocking job; None on timeout or once closed.
    #[pyo3(signature = (timeout=0.5))]
    fn next_blocking(&self, py: Python<'_>, timeout: f64) -> Option<Job> {
        let rx = self.core.blocking_rx.clone();
        let wait = Duration::from_secs_f64(timeout.max(0.0));
        py.detach(move || match rx.recv_timeout(wait) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        })
    }

    /// Stops accepting work: blocking workers see None once the channel is empty.
    fn close(&self) {
        self.core.close();
    }

    #[getter]
    fn closed(&self) -> bool {
        self.core.closed.load(Ordering::Acquire)
    }

    /// How many requests Rust has handed to Python.
    #[getter]
    fn handed_over(&self) -> u64 {
        self.core.handed_over.load(Ordering::Relaxed)
    }
}
