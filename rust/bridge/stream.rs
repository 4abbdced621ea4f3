//! Streamed response bodies: Python writes chunks into a bounded channel the Actix body
//! reads, and the body tells the event loop when a waiting writer can go on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::PyAny;
use tokio::sync::mpsc;

use super::response_args::body_bytes;
use crate::wake::{next_stream_id, Wakeup};

/// Shared by a stream's writer (Python) and its body (Actix): the body tells the event
/// loop when a writer waiting for room can go on, and when the client has gone.
pub struct StreamWaker {
    pub id: u64,
    waiting: AtomicBool,
    wake: Arc<Wakeup>,
}

impl StreamWaker {
    pub fn new(wake: Arc<Wakeup>) -> Self {
        Self {
            id: next_stream_id(),
            waiting: AtomicBool::new(false),
            wake,
        }
    }

    /// The consumer took a chunk: wake a writer that waits for room.
    pub fn made_room(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.wake.notify_stream(self.id);
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
    /// Blocks (GIL released) until the chunk is queued. False once the client is gone.
    fn write(&self, py: Python<'_>, chunk: &Bound<'_, PyAny>) -> PyResult<bool> {
        let data = body_bytes(chunk)?;
        if data.is_empty() {
            return Ok(true);
        }
        let tx = match self.tx.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(tx) => tx.clone(),
            None => return Ok(false),
        };
        Ok(py.detach(move || tx.blocking_send(data).is_ok()))
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
