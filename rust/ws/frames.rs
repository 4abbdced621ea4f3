//! The task that moves frames between a WebSocket and its handler. Oversized messages
//! close with 1009 (refused on their header, see `guard`), invalid UTF-8 with 1007, other protocol errors with 1002; ping is
//! answered with pong. Server shutdown closes every connection with 1001 (1012 when the
//! server restarts).

use std::time::Duration;

use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use tokio::sync::{mpsc, watch};

use super::channel::{Incoming, Outgoing, Shared};
use super::guard::Verdict;
use crate::metrics::Recorder;

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

pub fn close_reason(code: u16, reason: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::from(code),
        description: (!reason.is_empty()).then(|| reason.to_owned()),
    }
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

/// What the frame task watches besides the frames.
pub struct Watch<'a> {
    /// Set to the close code (1001, 1012) when the server stops.
    pub shutdown: watch::Receiver<u16>,
    pub metrics: Option<&'a Recorder>,
    /// Set by the frame-header check when it refuses the client's stream.
    pub verdict: &'a Verdict,
}

/// Moves frames until the connection ends; returns the close code and reason the handler
/// sees.
pub async fn pump(
    shared: &Shared,
    mut session: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
    mut outgoing: mpsc::Receiver<Outgoing>,
    limits: Limits,
    watch: Watch<'_>,
) -> (u16, String) {
    let Watch {
        mut shutdown,
        metrics,
        verdict,
    } = watch;
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
                        if let Some(metrics) = metrics {
                            metrics.ws_received();
                        }
                        shared.push(Incoming::Text(text.to_string()));
                        Ok(())
                    }
                    Some(Ok(AggregatedMessage::Binary(data))) => {
                        if let Some(metrics) = metrics {
                            metrics.ws_received();
                        }
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
                        let refused = verdict.load(std::sync::atomic::Ordering::Acquire);
                        let (code, why) = match err {
                            _ if refused == 1009 => (1009, "message too big"),
                            _ if refused != 0 => (refused, "protocol error"),
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
                if let (Some(metrics), Some(Outgoing::Text(_) | Outgoing::Binary(_))) =
                    (metrics, &out)
                {
                    metrics.ws_sent();
                }
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
