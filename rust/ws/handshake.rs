//! The end of a WebSocket handshake: the handler's decision, the server's connection
//! slots, and the start of the task that moves frames.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use tokio::sync::{mpsc, watch};

use super::channel::{Incoming, Outgoing, Shared};
use super::frames::{close_reason, pump, Limits, Watch};
use super::guard::{Guarded, Verdict};
use crate::metrics::Recorder;

/// What the handler decided about the handshake.
pub enum Decision {
    Accept {
        subprotocol: Option<String>,
        headers: Vec<(HeaderName, HeaderValue)>,
    },
    /// Complete the handshake and close at once with this code (e.g. 4001).
    Close { code: u16, reason: String },
}

/// One of a server's connection slots (and of its client's), given back when the
/// connection ends.
pub struct Slot {
    active: Arc<AtomicUsize>,
    client: Option<(Arc<ClientSlots>, IpAddr)>,
}

/// Why a handshake found no slot.
pub enum NoSlot {
    /// The server holds its most connections.
    Server,
    /// This client address holds its most.
    Client,
}

impl Slot {
    /// A slot when fewer than `max` connections are open (0: no limit) and, with
    /// `clients`, fewer than their limit from `ip`.
    pub fn take(
        active: &Arc<AtomicUsize>,
        max: usize,
        clients: Option<(&Arc<ClientSlots>, IpAddr)>,
    ) -> Result<Self, NoSlot> {
        let client = match clients {
            Some((slots, ip)) => {
                if !slots.take(ip) {
                    return Err(NoSlot::Client);
                }
                Some((Arc::clone(slots), ip))
            }
            None => None,
        };
        let slot = Self {
            active: Arc::clone(active),
            client,
        };
        let previous = active.fetch_add(1, Ordering::AcqRel);
        if max > 0 && previous >= max {
            return Err(NoSlot::Server); // `slot` gives both back as it drops
        }
        Ok(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
        if let Some((slots, ip)) = &self.client {
            slots.give_back(*ip);
        }
    }
}

/// Open WebSocket connections per client address, at most `max` each.
pub struct ClientSlots {
    max: usize,
    open: parking_lot::Mutex<HashMap<IpAddr, usize>>,
}

impl ClientSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: parking_lot::Mutex::new(HashMap::new()),
        })
    }

    fn take(&self, ip: IpAddr) -> bool {
        let mut open = self.open.lock();
        let count = open.entry(ip).or_insert(0);
        if *count >= self.max {
            return false;
        }
        *count += 1;
        true
    }

    fn give_back(&self, ip: IpAddr) {
        let mut open = self.open.lock();
        if let Some(count) = open.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&ip);
            }
        }
    }
}

/// What a connection's task needs from its server besides the limits.
pub struct Conn {
    pub slot: Slot,
    /// Set to the close code (1001, 1012) when the server stops.
    pub shutdown: watch::Receiver<u16>,
    /// The worker's metrics (`--metrics-port`): connections and messages.
    pub metrics: Option<Recorder>,
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
    // Frame headers are checked as they arrive, before the codec buffers a frame.
    let verdict = Verdict::default();
    let guarded = Guarded::new(payload, limits.max_message, Arc::clone(&verdict));
    let mut body = actix_web::dev::Payload::Stream {
        payload: Box::pin(guarded) as actix_http::BoxedPayloadStream,
    };
    let Ok(payload) = web::Payload::from_request(req, &mut body).into_inner() else {
        shared.push(Incoming::Closed(1006, String::new()));
        return HttpResponse::InternalServerError().finish();
    };
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
        if let Some(metrics) = &conn.metrics {
            metrics.websocket(1);
        }
        let (code, reason) = pump(
            &shared,
            session,
            stream,
            outgoing,
            limits,
            Watch {
                shutdown: conn.shutdown,
                metrics: conn.metrics.as_ref(),
                verdict: &verdict,
            },
        )
        .await;
        if let Some(metrics) = &conn.metrics {
            metrics.websocket(-1);
        }
        shared.push(Incoming::Closed(code, reason));
        shared.leave_groups();
        drop(conn.slot);
    });
    resp
}
