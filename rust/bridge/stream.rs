//! Streamed response bodies: Python writes chunks into a bounded channel the Actix body
//! reads, and the body tells the event loop when a waiting writer can go on.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use tokio::sync::mpsc;

use super::response_args::body_bytes;
use crate::wake::{next_stream_id, Wakeup};

/// How long a stream waits for its client to read (`--send-timeout`, milliseconds).
static SEND_TIMEOUT_MS: AtomicU64 = AtomicU64::new(60_000);

/// Sets how long a streamed response waits for a client that does not read.
pub fn set_send_timeout(seconds: f64) {
    SEND_TIMEOUT_MS.store((seconds.max(0.001) * 1000.0) as u64, Ordering::Relaxed);
}

pub fn send_timeout() -> Duration {
    Duration::from_millis(SEND_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// Shared by a stream's writer (Python) and its body (Actix): the body tells the event
/// loop (or a blocked writer thread) when a writer waiting for room can go on, and when
/// the client has gone.
pub struct StreamWaker {
    pub id: u64,
    waiting: AtomicBool,
    wake: Arc<Wakeup>,
    /// Set when the client did not read for the send timeout: the body then fails, so
    /// the connection is dropped rather than the response ending as if complete.
    aborted: AtomicBool,
    room: parking_lot::Mutex<()>,
    has_room: parking_lot::Condvar,
}

impl StreamWaker {
    pub fn new(wake: Arc<Wakeup>) -> Self {
        Self {
            id: next_stream_id(),
            waiting: AtomicBool::new(false),
            wake,
            aborted: AtomicBool::new(false),
            room: parking_lot::Mutex::new(()),
            has_room: parking_lot::Condvar::new(),
        }
    }

    /// The consumer took a chunk: wake a writer that waits for room.
    pub fn made_room(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.wake.notify_stream(self.id);
        }
        let _room = self.room.lock();
        self.has_room.notify_all();
    }

    pub fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    fn abort(&self) {
        if !self.aborted.swap(true, Ordering::AcqRel) {
            crate::logs::log(
                "django_bolt.server",
                crate::logs::WARNING,
                format!(
                    "a client read nothing of a streamed response for {:?}: it is abandoned",
                    send_timeout()
                ),
            );
        }
    }

    /// The body is gone (finished, or the client disconnected).
    pub fn ended(&self) {
        self.wake.notify_stream(self.id);
    }
}

/// Sends body chunks of a streamed response; bounded, so a slow client slows the producer.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct StreamWriter {
    tx: Mutex<Option<mpsc::Sender<Bytes>>>,
    waker: Arc<StreamWaker>,
}

impl StreamWriter {
    pub fn new(tx: mpsc::Sender<Bytes>, waker: Arc<StreamWaker>) -> Self {
        Self {
            tx: Mutex::new(Some(tx)),
            waker,
        }
    }
}

#[pymethods]
impl StreamWriter {
    /// Blocks (GIL released) until the chunk is queued. False once the client is gone,
    /// or when it has read nothing for the send timeout (the stream is then abandoned).
    fn write(&self, py: Python<'_>, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let data = body_bytes(chunk)?;
        if data.is_empty() {
            return Ok(true);
        }
        let tx = match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.clone(),
            None => return Ok(false),
        };
        let waker = Arc::clone(&self.waker);
        Ok(py.detach(move || {
            let deadline = Instant::now() + send_timeout();
            let mut data = data;
            let mut room = waker.room.lock();
            loop {
                match tx.try_send(data) {
                    Ok(()) => return true,
                    Err(mpsc::error::TrySendError::Closed(_)) => return false,
                    Err(mpsc::error::TrySendError::Full(back)) => data = back,
                }
                let now = Instant::now();
                if now >= deadline {
                    waker.abort();
                    return false;
                }
                waker.has_room.wait_for(&mut room, deadline - now);
            }
        }))
    }

    /// Gives up on a client that does not read (the async writers' send timeout): the
    /// connection is dropped instead of the response ending as if complete.
    fn abort(&self) {
        self.waker.abort();
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Ends the body as broken (its producer failed; the failure is logged by the
    /// caller): the connection is dropped, so the client does not take a truncated body
    /// for a complete one.
    fn fail(&self) {
        self.waker.aborted.store(true, Ordering::Release);
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Queues the chunk without blocking: 0 sent; 1 full (the event loop will be told,
    /// through the bridge, when there is room: wait, then call again); 2 client gone.
    fn send(&self, chunk: &Bound<'_, PyAny>) -> PyResult<u8> {
        let data = body_bytes(chunk)?;
        if data.is_empty() {
            return Ok(0);
        }
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = guard.as_ref() else {
            return Ok(2);
        };
        match tx.try_send(data) {
            Ok(()) => Ok(0),
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(2),
            Err(mpsc::error::TrySendError::Full(data)) => {
                // Arm the wake-up first, then try once more: a consumer that made room
                // in between has either taken this chunk or will see `waiting`.
                self.waker.waiting.store(true, Ordering::Release);
                match tx.try_send(data) {
                    Ok(()) => Ok(0),
                    Err(mpsc::error::TrySendError::Full(_)) => Ok(1),
                    Err(mpsc::error::TrySendError::Closed(_)) => Ok(2),
                }
            }
        }
    }

    #[getter]
    fn id(&self) -> u64 {
        self.waker.id
    }

    /// True once the client has gone (or the stream was closed).
    #[getter]
    fn closed(&self) -> bool {
        match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.is_closed(),
            None => true,
        }
    }

    /// Ends the body.
    fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}
