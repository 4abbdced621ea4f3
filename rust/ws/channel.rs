//! A WebSocket connection's shared state: incoming messages queue in Rust and wake the
//! event loop; outgoing ones go through a bounded channel, so a handler sending faster
//! than the client reads waits instead of growing a buffer. Group messages share the
//! queue (so a connection sees them in order with its own), with more room; a member
//! that lets even that fill is closed with 1008 rather than buffered without bound or
//! silently skipped.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use bytestring::ByteString;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tokio::sync::{mpsc, Notify};

use crate::wake::{next_stream_id, Wakeup};

/// Queued outgoing messages per connection before the handler's `send` waits.
const HANDLER_DEPTH: usize = 64;
/// Queued outgoing messages (handler and group ones) before a group message closes the
/// connection as too slow.
const QUEUE_DEPTH: usize = 1024;

pub enum Incoming {
    Text(String),
    Binary(Bytes),
    /// The connection ended: the close code (1006 when there was no close frame).
    Closed(u16, String),
}

#[derive(Clone)]
pub enum Outgoing {
    Text(ByteString),
    Binary(Bytes),
    Close(u16, String),
}

impl Outgoing {
    /// A message of `kind` "text" or "bytes" from Python.
    pub fn from_py(kind: &str, data: &Bound<'_, PyAny>) -> PyResult<Self> {
        match kind {
            "text" => Ok(Self::Text(ByteString::from(data.extract::<String>()?))),
            "bytes" => Ok(Self::Binary(Bytes::from(data.extract::<Vec<u8>>()?))),
            other => Err(PyValueError::new_err(format!(
                "unknown message kind {other:?}"
            ))),
        }
    }
}

/// The groups a connection joined, left together when the connection ends.
pub trait Membership: Send + Sync {
    fn leave(&self, id: u64);
}

/// The state a connection shares between its Rust task and its Python handler.
pub struct Shared {
    pub id: u64,
    incoming: Mutex<VecDeque<Incoming>>,
    /// Python waits for an incoming message or for room to send.
    waiting: AtomicBool,
    closed: AtomicBool,
    outgoing: mpsc::Sender<Outgoing>,
    wake: Arc<Wakeup>,
    /// A group message found the queue full: the pump closes the connection.
    pub overflowed: Notify,
    /// The group hub this connection joined groups of (left when the connection ends).
    hub: Mutex<Option<Arc<dyn Membership>>>,
}

impl Shared {
    pub fn new(wake: Arc<Wakeup>) -> (Arc<Self>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let shared = Arc::new(Self {
            // One id space with HTTP streams: the event loop wakes both by id.
            id: next_stream_id(),
            incoming: Mutex::new(VecDeque::new()),
            waiting: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            outgoing: tx,
            wake,
            overflowed: Notify::new(),
            hub: Mutex::new(None),
        });
        (shared, rx)
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Queues a group message; a full queue closes the connection (1008).
    pub fn offer(&self, message: Outgoing) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outgoing.try_send(message) {
            self.overflowed.notify_one();
        }
    }

    /// Remembers the hub whose groups this connection joined.
    pub fn joined<H: Membership + 'static>(&self, hub: &Arc<H>) {
        let mut slot = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(Arc::clone(hub) as Arc<dyn Membership>);
        }
    }

    /// Leaves every group the connection joined.
    pub fn leave_groups(&self) {
        let hub = self.hub.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(hub) = hub {
            hub.leave(self.id);
        }
    }

    /// True when the handler may queue another message of its own.
    fn handler_has_room(&self) -> bool {
        QUEUE_DEPTH - self.outgoing.capacity() < HANDLER_DEPTH
    }

    pub fn wake(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.wake.notify_stream(self.id);
        }
    }

    pub fn push(&self, event: Incoming) {
        if matches!(event, Incoming::Closed(..)) {
            self.closed.store(true, Ordering::Release);
        }
        self.incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(event);
        self.wake();
    }
}

/// The handler's side of one connection.
#[pyclass(frozen, module = "django_bolt._core")]
pub struct WebSocketChannel {
    pub shared: Arc<Shared>,
}

#[pymethods]
impl WebSocketChannel {
    #[getter]
    fn id(&self) -> u64 {
        self.shared.id
    }

    #[getter]
    fn closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// The next message as `("text", str)`, `("bytes", bytes)` or `("close", (code, reason))`;
    /// None when nothing has arrived (the channel then wakes the loop on the next one).
    fn receive<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let mut queue = self
            .shared
            .incoming
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let Some(event) = queue.pop_front() else {
            self.shared.waiting.store(true, Ordering::Release);
            return Ok(None);
        };
        let item = match event {
            Incoming::Text(text) => {
                ("text", PyString::new(py, &text).into_any()).into_pyobject(py)?
            }
            Incoming::Binary(data) => {
                ("bytes", PyBytes::new(py, &data).into_any()).into_pyobject(py)?
            }
            Incoming::Closed(code, reason) => {
                // Keep reporting the close to later calls.
                queue.push_front(Incoming::Closed(code, reason.clone()));
                ("close", (code, reason).into_pyobject(py)?.into_any()).into_pyobject(py)?
            }
        };
        Ok(Some(item))
    }

    /// Queues a message: 0 queued, 1 full (the channel wakes the loop when there is room),
    /// 2 the connection is closed.
    fn send(&self, kind: &str, data: &Bound<'_, PyAny>) -> PyResult<u8> {
        if self.shared.closed.load(Ordering::Acquire) {
            return Ok(2);
        }
        if !self.shared.handler_has_room() {
            return Ok(self.wait_for_room());
        }
        let message = Outgoing::from_py(kind, data)?;
        match self.shared.outgoing.try_send(message) {
            Ok(()) => Ok(0),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(self.wait_for_room()),
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(2),
        }
    }

    /// Closes the connection with `code` (queued after the messages already sent).
    #[pyo3(signature = (code=1000, reason=""))]
    fn close(&self, code: u16, reason: &str) -> bool {
        if self.shared.closed.load(Ordering::Acquire) {
            return false;
        }
        match self
            .shared
            .outgoing
            .try_send(Outgoing::Close(code, reason.to_owned()))
        {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.wait_for_room();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

impl WebSocketChannel {
    /// Asks to be woken when the queue has room; returns 1 ("full, wait").
    fn wait_for_room(&self) -> u8 {
        self.shared.waiting.store(true, Ordering::Release);
        // Room may have appeared between the attempt and the flag.
        if self.shared.handler_has_room() {
            self.shared.wake();
        }
        1
    }
}
