//! WebSocket routes: the handshake waits for the Python handler's `accept()` (or `close()`),
//! then a task on the Actix worker moves frames between the socket and the handler.
//!
//! Incoming messages queue in Rust and wake the event loop through the bridge; outgoing
//! ones go through a bounded channel, so a handler sending faster than the client reads
//! waits instead of growing a buffer. Oversized messages close with 1009, invalid UTF-8
//! with 1007, other protocol errors with 1002; ping is answered with pong.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tokio::sync::mpsc;

use crate::bridge::BridgeCore;

/// Outgoing queue depth per connection before `send` makes the handler wait.
const OUTGOING_DEPTH: usize = 64;

/// What the handler decided about the handshake.
pub enum Decision {
    Accept {
        subprotocol: Option<String>,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// Complete the handshake and close at once with this code (e.g. 4001).
    Close { code: u16, reason: String },
}

pub enum Incoming {
    Text(String),
    Binary(Bytes),
    /// The connection ended: the close code (1006 when there was no close frame).
    Closed(u16, String),
}

pub enum Outgoing {
    Text(String),
    Binary(Bytes),
    Close(u16, String),
}

/// The state a connection shares between its Rust task and its Python handler.
pub struct Shared {
    pub id: u64,
    incoming: Mutex<VecDeque<Incoming>>,
    /// Python waits for an incoming message or for room to send.
    waiting: AtomicBool,
    closed: AtomicBool,
    outgoing: mpsc::Sender<Outgoing>,
    bridge: Arc<BridgeCore>,
}

impl Shared {
    pub fn new(bridge: Arc<BridgeCore>) -> (Arc<Self>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(OUTGOING_DEPTH);
        let shared = Arc::new(Self {
            // One id space with HTTP streams: the event loop wakes both by id.
            id: crate::job::NEXT_STREAM_ID.fetch_add(1, Ordering::Relaxed),
            incoming: Mutex::new(VecDeque::new()),
            waiting: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            outgoing: tx,
            bridge,
        });
        (shared, rx)
    }

    fn wake(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.bridge.notify_stream(self.id);
        }
    }

    fn push(&self, event: Incoming) {
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

fn close_reason(code: u16, reason: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::from(code),
        description: (!reason.is_empty()).then(|| reason.to_owned()),
    }
}

/// Limits for every connection of a server.
#[derive(Clone, Copy)]
pub struct Limits {
    /// Larger messages close the connection with 1009.
    pub max_message: usize,
    /// A ping is sent after this long without traffic from the client (None: never).
    pub ping_interval: Option<Duration>,
    /// A connection that stays silent this long after a ping closes with 1011.
    pub ping_timeout: Duration,
}

impl Limits {
    pub fn new(max_message: usize, ping_interval: f64, ping_timeout: f64) -> Self {
        Self {
            max_message: max_message.max(1),
            ping_interval: (ping_interval > 0.0).then(|| Duration::from_secs_f64(ping_interval)),
            ping_timeout: Duration::from_secs_f64(ping_timeout.max(0.001)),
        }
    }
}

/// Completes the handshake the handler accepted (or closes at once) and starts the task
/// that moves frames.
pub fn finish_handshake(
    req: &HttpRequest,
    payload: web::Payload,
    decision: Decision,
    shared: Arc<Shared>,
    outgoing: mpsc::Receiver<Outgoing>,
    limits: Limits,
) -> HttpResponse {
    let (subprotocol, headers, close_now) = match decision {
        Decision::Accept {
            subprotocol,
            headers,
        } => (subprotocol, headers, None),
        Decision::Close { code, reason } => (None, Vec::new(), Some((code, reason))),
    };
    let protocols: Vec<&str> = subprotocol.iter().map(String::as_str).collect();
    let (mut resp, session, stream) =
        match actix_ws::handle_with_protocols(req, payload, &protocols) {
            Ok(parts) => parts,
            Err(e) => {
                shared.push(Incoming::Closed(1006, String::new()));
                return HttpResponse::from_error(e);
            }
        };
    for (name, value) in headers {
        resp.headers_mut().append(name, value);
    }
    if let Some((code, reason)) = close_now {
        shared.push(Incoming::Closed(code, reason.clone()));
        actix_rt::spawn(async move {
            let _ = session.close(Some(close_reason(code, &reason))).await;
        });
        return resp;
    }
    let stream = stream
        .max_frame_size(limits.max_message)
        .aggregate_continuations()
        .max_continuation_size(limits.max_message);
    actix_rt::spawn(pump(shared, session, stream, outgoing, limits));
    resp
}

async fn pump(
    shared: Arc<Shared>,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    mut outgoing: mpsc::Receiver<Outgoing>,
    limits: Limits,
) {
    // Keep-alive: after `ping_interval` of silence from the client send a ping; if the
    // client stays silent for `ping_timeout` more, the connection is dead.
    let mut last_heard = tokio::time::Instant::now();
    let mut ping_sent: Option<tokio::time::Instant> = None;
    let (code, reason) = loop {
        let deadline = match (limits.ping_interval, ping_sent) {
            (None, _) => None,
            (Some(_), Some(sent)) => Some(sent + limits.ping_timeout),
            (Some(interval), None) => Some(last_heard + interval),
        };
        let idle = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = idle => {
                if ping_sent.is_some() {
                    let _ = session.close(Some(close_reason(1011, "keep-alive ping timed out"))).await;
                    break (1006, "keep-alive ping timed out".to_owned());
                }
                if session.ping(b"bolt").await.is_err() {
                    break (1006, String::new());
                }
                ping_sent = Some(tokio::time::Instant::now());
            }
            msg = stream.recv() => {
                last_heard = tokio::time::Instant::now();
                ping_sent = None;
                match msg {
                Some(Ok(AggregatedMessage::Text(text))) => shared.push(Incoming::Text(text.to_string())),
                Some(Ok(AggregatedMessage::Binary(data))) => shared.push(Incoming::Binary(data)),
                Some(Ok(AggregatedMessage::Ping(data))) => {
                    if session.pong(&data).await.is_err() {
                        break (1006, String::new());
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {}
                Some(Ok(AggregatedMessage::Close(reason))) => {
                    let code = reason.as_ref().map(|r| u16::from(r.code)).unwrap_or(1005);
                    let text = reason.as_ref().and_then(|r| r.description.clone()).unwrap_or_default();
                    // Echo the close, as RFC 6455 asks.
                    let _ = session.close(reason).await;
                    shared.push(Incoming::Closed(code, text));
                    return;
                }
                Some(Err(err)) => {
                    use actix_http::ws::ProtocolError as P;
                    let (code, why) = match err {
                        P::Overflow => (1009, "message too big"),
                        P::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData => (1007, "invalid UTF-8"),
                        _ => (1002, "protocol error"),
                    };
                    let _ = session.close(Some(close_reason(code, why))).await;
                    break (code, why.to_owned());
                }
                None => break (1006, String::new()),
            }},
            out = outgoing.recv() => {
                // The handler may be waiting for room.
                shared.wake();
                let sent = match out {
                    Some(Outgoing::Text(text)) => session.text(text).await,
                    Some(Outgoing::Binary(data)) => session.binary(data).await,
                    Some(Outgoing::Close(code, reason)) => {
                        let _ = session.close(Some(close_reason(code, &reason))).await;
                        break (code, reason);
                    }
                    // The handler returned without closing.
                    None => {
                        let _ = session.close(Some(close_reason(1000, ""))).await;
                        break (1000, String::new());
                    }
                };
                if sent.is_err() {
                    break (1006, String::new());
                }
            }
        }
    };
    shared.push(Incoming::Closed(code, reason));
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
        let message = match kind {
            "text" => Outgoing::Text(data.extract::<String>()?),
            "bytes" => Outgoing::Binary(Bytes::from(data.extract::<Vec<u8>>()?)),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown message kind {other:?}"
                )))
            }
        };
        match self.shared.outgoing.try_send(message) {
            Ok(()) => Ok(0),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.waiting.store(true, Ordering::Release);
                // Room may have appeared between the attempt and the flag.
                if self.shared.outgoing.capacity() > 0 {
                    self.shared.wake();
                }
                Ok(1)
            }
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
                self.shared.waiting.store(true, Ordering::Release);
                if self.shared.outgoing.capacity() > 0 {
                    self.shared.wake();
                }
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}
