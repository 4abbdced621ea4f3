//! The hand-off between Actix threads and Python.
//!
//! Actix threads never take the GIL. Requests for async handlers go into a queue that
//! the Python event loop drains in batches: the first request of a batch wakes the loop,
//! later ones only append. Requests for sync handlers and the Django fallback go to a
//! channel read by Python worker threads that wait in Rust with the GIL released. Python
//! answers through the job's one-shot reply channel.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use pyo3::prelude::*;
use tokio::sync::oneshot;

use super::job::Job;
use super::parts::{Reply, RequestParts};
use crate::wake::Wakeup;

/// What the worker threads take: a request, or a piece of work Python deferred to them
/// (a streamed response to carry on once its client has made room). Not boxed: the
/// channel held Jobs of this size before, and a box would cost every request an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Work {
    Job(Job),
    Call(Py<PyAny>),
}

pub struct BridgeCore {
    pub wake: Arc<Wakeup>,
    pending: Mutex<Vec<Job>>,
    blocking_tx: Mutex<Option<Sender<Work>>>,
    blocking_rx: Receiver<Work>,
    closed: AtomicBool,
    /// Requests handed to Python so far (tests and the bench use it to show that
    /// rejected requests never reach Python).
    handed_over: AtomicU64,
    /// Requests in Python now (queued, running or awaiting) and not yet answered.
    in_python: Arc<AtomicUsize>,
}

/// Why a request was not handed to Python.
#[derive(Debug, PartialEq, Eq)]
pub enum NotHandedOver {
    /// `max_pending` requests are already in Python.
    Busy,
    /// The server is stopping.
    Closed,
}

impl BridgeCore {
    pub fn new() -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        Ok(Self {
            wake: Arc::new(Wakeup::new()?),
            pending: Mutex::new(Vec::with_capacity(256)),
            blocking_tx: Mutex::new(Some(tx)),
            blocking_rx: rx,
            closed: AtomicBool::new(false),
            handed_over: AtomicU64::new(0),
            in_python: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Queues a request for Python (the worker threads when `blocking`, else the event
    /// loop); the receiver of its answer. Refused when `max_pending` (0: no limit)
    /// requests are already in Python, or once closed.
    pub fn hand_over(
        &self,
        parts: RequestParts,
        blocking: bool,
        max_pending: usize,
    ) -> Result<oneshot::Receiver<Reply>, NotHandedOver> {
        let before = self.in_python.fetch_add(1, Ordering::AcqRel);
        if max_pending > 0 && before >= max_pending {
            self.in_python.fetch_sub(1, Ordering::AcqRel);
            return Err(NotHandedOver::Busy);
        }
        let (tx, rx) = oneshot::channel();
        // From here the job gives its place back when it is answered or dropped.
        let job = Job::new(
            parts,
            tx,
            Arc::clone(&self.wake),
            Arc::clone(&self.in_python),
        );
        let submitted = if blocking {
            self.submit_blocking(job)
        } else {
            self.submit_async(job)
        };
        if submitted {
            Ok(rx)
        } else {
            Err(NotHandedOver::Closed)
        }
    }

    /// Requests in Python now.
    pub fn in_python(&self) -> usize {
        self.in_python.load(Ordering::Acquire)
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
        self.wake.schedule();
        true
    }

    /// Queues a job for the blocking worker threads; false (and the job dropped) once
    /// closed.
    pub fn submit_blocking(&self, job: Job) -> bool {
        self.handed_over.fetch_add(1, Ordering::Relaxed);
        self.submit_work(Work::Job(job))
    }

    /// Queues a Python callable for the worker threads; false once closed.
    pub fn defer(&self, call: Py<PyAny>) -> bool {
        self.submit_work(Work::Call(call))
    }

    fn submit_work(&self, work: Work) -> bool {
        let guard = self.blocking_tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => tx.send(work).is_ok(),
            None => false,
        }
    }

    /// The jobs queued since the last call (the event loop's wake-up consumed).
    pub fn take_pending(&self) -> Vec<Job> {
        self.wake.drain();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *pending)
    }

    /// Waits for the next piece of blocking work; None on timeout or once closed.
    pub fn next_blocking(&self, timeout: Duration) -> Option<Work> {
        match self.blocking_rx.recv_timeout(timeout) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Stops accepting work: blocking workers see None once the channel is empty.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.blocking_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.wake.signal();
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn handed_over(&self) -> u64 {
        self.handed_over.load(Ordering::Relaxed)
    }
}
