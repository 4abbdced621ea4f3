//! WebSocket routes: the handshake waits for the Python handler's `accept()` (or `close()`),
//! then a task on the Actix worker moves frames between the socket and the handler.
//!
//! Incoming messages queue in Rust and wake the event loop through the bridge; outgoing
//! ones go through a bounded channel, so a handler sending faster than the client reads
//! waits instead of growing a buffer. Oversized messages close with 1009, invalid UTF-8
//! with 1007, other protocol errors with 1002; ping is answered with pong. Group
//! messages share the queue (so a connection sees them in order with its own), with more
//! room; a member that lets even that fill is closed with 1008 rather than buffered
//! without bound or silently skipped. Server shutdown closes every connection with 1001
//! (1012 when the server restarts).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use bytes::Bytes;
use bytestring::ByteString;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use tokio::sync::{mpsc, watch, Notify};

use crate::bridge::BridgeCore;
use crate::cors::OriginSet;
use crate::groups::HubCore;

/// Queued outgoing messages per connection before the handler's `send` waits.
const HANDLER_DEPTH: usize = 64;
/// Queued outgoing messages (handler and group ones) before a group message closes the
/// connection as too slow.
const QUEUE_DEPTH: usize = 1024;

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

#[derive(Clone)]
pub enum Outgoing {
    Text(ByteString),
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
    /// A group message found the queue full: the pump closes the connection.
    overflowed: Notify,
    /// The group hub this connection joined groups of (left when the connection ends).
    hub: Mutex<Option<Arc<HubCore>>>,
}

impl Shared {
    pub fn new(bridge: Arc<BridgeCore>) -> (Arc<Self>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let shared = Arc::new(Self {
            // One id space with HTTP streams: the event loop wakes both by id.
            id: crate::job::NEXT_STREAM_ID.fetch_add(1, Ordering::Relaxed),
            incoming: Mutex::new(VecDeque::new()),
            waiting: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            outgoing: tx,
            bridge,
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
    pub fn joined(&self, hub: &Arc<HubCore>) {
        let mut slot = self.hub.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(Arc::clone(hub));
        }
    }

    fn leave_groups(&self) {
        let hub = self.hub.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(hub) = hub {
            hub.leave_all(self.id);
        }
    }

    /// True when the handler may queue another message of its own.
    fn handler_has_room(&self) -> bool {
        QUEUE_DEPTH - self.outgoing.capacity() < HANDLER_DEPTH
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

/// Which pages may open a route's WebSockets, checked against the handshake's `Origin`
/// (browsers always send it; other clients need not, and are let through).
pub struct OriginCheck {
    origins: OriginSet,
    /// Django `ALLOWED_HOSTS` patterns: "*", "example.com", ".example.com".
    hosts: Vec<String>,
}

impl OriginCheck {
    pub fn new(origins: &[String], hosts: &[String]) -> Result<Self, String> {
        Ok(Self {
            origins: OriginSet::parse(origins)?,
            hosts: hosts
                .iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        })
    }

    pub fn allows(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.origins.allows(origin) {
            return true;
        }
        let Some(host) = origin_host(origin) else {
            return false;
        };
        self.hosts.iter().any(|pattern| {
            pattern == "*"
                || *pattern == host
                || pattern.strip_prefix('.').is_some_and(|domain| {
                    host == domain
                        || host
                            .strip_suffix(domain)
                            .is_some_and(|sub| sub.ends_with('.'))
                })
        })
    }
}

/// The host of an origin (`https://Example.com:8443` -> `example.com`), lower-cased.
fn origin_host(origin: &str) -> Option<String> {
    let (_, rest) = origin.trim().split_once("://")?;
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
        return None;
    }
    let host = if let Some(v6) = rest.strip_prefix('[') {
        &rest[..v6.find(']')? + 2]
    } else {
        rest.rsplit_once(':').map_or(rest, |(h, _)| h)
    };
    Some(host.to_ascii_lowercase())
}

/// One of a server's connection slots, given back when the connection ends.
pub struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A slot when fewer than `max` connections are open (0: no limit).
    pub fn take(active: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        let previous = active.fetch_add(1, Ordering::AcqRel);
        if max > 0 && previous >= max {
            active.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(Arc::clone(active)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What a connection's task needs from its server besides the limits.
pub struct Conn {
    pub slot: Slot,
    /// Set to the close code (1001, 1012) when the server stops.
    pub shutdown: watch::Receiver<u16>,
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
    conn: Conn,
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
    actix_rt::spawn(async move {
        let (code, reason) = pump(&shared, session, stream, outgoing, limits, conn.shutdown).await;
        shared.push(Incoming::Closed(code, reason));
        shared.leave_groups();
        drop(conn.slot);
    });
    resp
}

/// Resolves to the close code once the server stops (never, if it never says).
async fn stop_code(shutdown: &mut watch::Receiver<u16>) -> u16 {
    loop {
        if shutdown.changed().await.is_err() {
            return std::future::pending().await;
        }
        let code = *shutdown.borrow_and_update();
        if code != 0 {
            return code;
        }
    }
}

const TOO_SLOW: &str = "too slow: group messages overflowed the queue";

/// Sends a close frame and returns what the handler is told. A client that is not reading
/// gets a second for the close to find room.
async fn finish(session: actix_ws::Session, code: u16, why: &str) -> (u16, String) {
    finish_within(session, code, why, Duration::from_secs(1)).await
}

async fn finish_within(
    session: actix_ws::Session,
    code: u16,
    why: &str,
    wait: Duration,
) -> (u16, String) {
    let reason = close_reason(code, why);
    let _ = tokio::time::timeout(wait, session.close(Some(reason))).await;
    (code, why.to_owned())
}

/// Why a write did not complete.
enum Stalled {
    /// The connection is gone.
    Gone,
    /// Close with this code: the client stopped reading or fell behind its groups.
    Close(u16, &'static str),
}

/// One write, given up when the client reads nothing for `timeout` or a group message
/// finds its queue full meanwhile.
async fn write<F>(shared: &Shared, timeout: Duration, send: F) -> Result<(), Stalled>
where
    F: std::future::Future<Output = Result<(), actix_ws::Closed>>,
{
    tokio::select! {
        sent = tokio::time::timeout(timeout, send) => match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Stalled::Gone),
            Err(_) => Err(Stalled::Close(1011, "client stopped reading")),
        },
        () = shared.overflowed.notified() => Err(Stalled::Close(1008, TOO_SLOW)),
    }
}

/// Moves frames until the connection ends; returns the close code and reason the handler
/// sees.
async fn pump(
    shared: &Shared,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    mut outgoing: mpsc::Receiver<Outgoing>,
    limits: Limits,
    mut shutdown: watch::Receiver<u16>,
) -> (u16, String) {
    let stopping = *shutdown.borrow_and_update();
    if stopping != 0 {
        return finish(session, stopping, "server shutting down").await;
    }
    // Keep-alive: after `ping_interval` of silence from the client send a ping; if the
    // client stays silent for `ping_timeout` more, the connection is dead.
    let mut last_heard = tokio::time::Instant::now();
    let mut ping_sent: Option<tokio::time::Instant> = None;
    let stall = limits.ping_timeout;
    let outcome: Result<(), Stalled> = loop {
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
        let step = tokio::select! {
            () = shared.overflowed.notified() => Err(Stalled::Close(1008, TOO_SLOW)),
            code = stop_code(&mut shutdown) => {
                let why = if code == 1012 { "server restarting" } else { "server shutting down" };
                return finish(session, code, why).await;
            }
            () = idle => {
                if ping_sent.is_some() {
                    let _ = finish(session, 1011, "keep-alive ping timed out").await;
                    return (1006, "keep-alive ping timed out".to_owned());
                }
                ping_sent = Some(tokio::time::Instant::now());
                write(shared, stall, session.ping(b"bolt")).await
            }
            msg = stream.recv() => {
                last_heard = tokio::time::Instant::now();
                ping_sent = None;
                match msg {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        shared.push(Incoming::Text(text.to_string()));
                        Ok(())
                    }
                    Some(Ok(AggregatedMessage::Binary(data))) => {
                        shared.push(Incoming::Binary(data));
                        Ok(())
                    }
                    Some(Ok(AggregatedMessage::Ping(data))) => {
                        write(shared, stall, session.pong(&data)).await
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => Ok(()),
                    Some(Ok(AggregatedMessage::Close(reason))) => {
                        let code = reason.as_ref().map(|r| u16::from(r.code)).unwrap_or(1005);
                        let text = reason
                            .as_ref()
                            .and_then(|r| r.description.clone())
                            .unwrap_or_default();
                        // Echo the close, as RFC 6455 asks.
                        let _ = tokio::time::timeout(Duration::from_secs(1), session.close(reason))
                            .await;
                        return (code, text);
                    }
                    Some(Err(err)) => {
                        use actix_http::ws::ProtocolError as P;
                        let (code, why) = match err {
                            P::Overflow => (1009, "message too big"),
                            P::Io(ref e) if e.kind() == std::io::ErrorKind::InvalidData => {
                                (1007, "invalid UTF-8")
                            }
                            _ => (1002, "protocol error"),
                        };
                        return finish(session, code, why).await;
                    }
                    None => Err(Stalled::Gone),
                }
            }
            out = outgoing.recv() => {
                // The handler may be waiting for room.
                shared.wake();
                match out {
                    Some(Outgoing::Text(text)) => write(shared, stall, session.text(text)).await,
                    Some(Outgoing::Binary(data)) => write(shared, stall, session.binary(data)).await,
                    Some(Outgoing::Close(code, reason)) => {
                        let _ = finish(session, code, &reason).await;
                        return (code, reason);
                    }
                    // The handler returned without closing.
                    None => return finish(session, 1000, "").await,
                }
            }
        };
        if step.is_err() {
            break step;
        }
    };
    match outcome {
        // Behind on group messages but maybe still reading: the close waits its turn.
        Err(Stalled::Close(1008, why)) => finish_within(session, 1008, why, stall).await,
        Err(Stalled::Close(code, why)) => finish(session, code, why).await,
        _ => (1006, String::new()),
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
        let message = match kind {
            "text" => Outgoing::Text(ByteString::from(data.extract::<String>()?)),
            "bytes" => Outgoing::Binary(Bytes::from(data.extract::<Vec<u8>>()?)),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown message kind {other:?}"
                )))
            }
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check(origins: &[&str], hosts: &[&str]) -> OriginCheck {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        OriginCheck::new(&own(origins), &own(hosts)).unwrap()
    }

    #[test]
    fn origins_by_allowed_hosts() {
        let c = check(&[], &["example.com", ".example.org", "[::1]"]);
        assert!(c.allows(None));
        assert!(c.allows(Some("https://example.com")));
        assert!(c.allows(Some("http://EXAMPLE.com:8000")));
        assert!(!c.allows(Some("https://www.example.com")));
        assert!(c.allows(Some("https://example.org")));
        assert!(c.allows(Some("https://chat.example.org")));
        assert!(!c.allows(Some("https://badexample.org")));
        assert!(!c.allows(Some("https://example.org.evil.test")));
        assert!(c.allows(Some("http://[::1]:8000")));
        assert!(!c.allows(Some("null")));
        assert!(!c.allows(Some("https://example.com@evil.test")));
        assert!(!c.allows(Some("example.com")));
    }

    #[test]
    fn explicit_origins() {
        let c = check(&["https://app.example.com", "https://*.example.net"], &[]);
        assert!(c.allows(Some("https://app.example.com")));
        assert!(!c.allows(Some("http://app.example.com")));
        assert!(c.allows(Some("https://x.example.net")));
        assert!(!c.allows(Some("https://evil.test")));
        assert!(check(&["*"], &[]).allows(Some("https://evil.test")));
    }
}
