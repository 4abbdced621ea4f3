//! Reading a request body under its size limit: whole, as a parsed multipart form (API
//! routes), or as a head followed by a stream Python reads from (Django's paths).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::errors::error_for;
use super::form::{self, FormError, FormLimits, ParsedForm};

/// Why a body could not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge(usize),
    Malformed(String),
    Unreadable(String),
    TimedOut,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(limit) => {
                write!(f, "Request body is larger than the limit of {limit} bytes")
            }
            Self::Malformed(msg) => f.write_str(msg),
            Self::Unreadable(e) => write!(f, "Could not read the request body: {e}"),
            Self::TimedOut => f.write_str("The request body was not received in time"),
        }
    }
}

impl BodyError {
    /// The refusal: JSON, or an HTML page for a browser (`html`). A timed-out body
    /// leaves the connection in an unknown state, so that answer closes it.
    pub fn response(&self, html: bool) -> HttpResponse {
        let status = match self {
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Malformed(_) | Self::Unreadable(_) => StatusCode::BAD_REQUEST,
            Self::TimedOut => StatusCode::REQUEST_TIMEOUT,
        };
        let mut resp = error_for(status, &self.to_string(), html);
        if *self == Self::TimedOut {
            resp.head_mut().set_connection_type(ConnectionType::Close);
        }
        resp
    }
}

/// A body the connection could not deliver, said plainly: Actix reports a malformed
/// chunked framing as an incomplete body.
fn unreadable(e: PayloadError) -> BodyError {
    BodyError::Unreadable(match e {
        PayloadError::Incomplete(_) => {
            "it ended early, or its chunked framing is malformed".to_string()
        }
        e => e.to_string(),
    })
}

fn is_multipart(req: &HttpRequest) -> Option<&str> {
    let ct = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    ct.trim_start()
        .get(..19)
        .filter(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        .map(|_| ct)
}

pub fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Reads the body of an API route, or for multipart/form-data, parses it.
pub async fn read_input(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: FormLimits,
) -> Result<(Bytes, Option<ParsedForm>), BodyError> {
    let Some(content_type) = is_multipart(req) else {
        return read_body(req, &mut payload, limits.max_body, usize::MAX)
            .await
            .map(|b| (b, None));
    };
    if declared_length(req).is_some_and(|len| len > limits.max_body as u64) {
        return Err(BodyError::TooLarge(limits.max_body));
    }
    let parsed = match form::boundary(content_type) {
        Ok(boundary) => form::parse_multipart(payload, boundary, &limits).await,
        Err(e) => Err(e),
    };
    match parsed {
        Ok(form) => Ok((Bytes::new(), Some(form))),
        Err(FormError::TooLarge(limit)) => Err(BodyError::TooLarge(limit)),
        Err(FormError::Malformed(msg)) => Err(BodyError::Malformed(msg)),
    }
}

/// What has arrived of a body Django will read: all of it, or its first part with the
/// rest still on the connection.
pub enum Arrival {
    Whole(Bytes),
    Head {
        head: Bytes,
        rest: web::Payload,
        /// Bytes still to come (from Content-Length).
        remaining: u64,
    },
}

/// Reads a body for Django under `limit`. A body of known length over `head` bytes is
/// handed on once `head` bytes are in, the rest to be forwarded as Django reads; a
/// chunked body (length unknown) is read whole, as Django reads only CONTENT_LENGTH bytes.
pub async fn read_for_django(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    head: usize,
) -> Result<Arrival, BodyError> {
    let declared = declared_length(req);
    let stop = match declared {
        Some(len) if len > head as u64 => head,
        _ => usize::MAX,
    };
    let read = read_body(req, &mut payload, limit, stop).await?;
    match declared {
        Some(len) if (read.len() as u64) < len => Ok(Arrival::Head {
            remaining: len - read.len() as u64,
            head: read,
            rest: payload,
        }),
        _ => Ok(Arrival::Whole(read)),
    }
}

/// Forwards the rest of a body into `tx` as the reader makes room, each chunk due
/// within `idle`. A failure is also sent to the reader (when it has room to see it).
pub async fn forward(
    mut rest: web::Payload,
    tx: mpsc::Sender<Result<Bytes, BodyError>>,
    idle: Duration,
) -> Result<(), BodyError> {
    loop {
        let next = match actix_rt::time::timeout(idle, rest.next()).await {
            Err(_) => Err(BodyError::TimedOut),
            Ok(None) => return Ok(()),
            Ok(Some(Ok(chunk))) => Ok(chunk),
            Ok(Some(Err(e))) => Err(unreadable(e)),
        };
        match next {
            // A reader that is gone no longer wants the body: stop reading it.
            Ok(chunk) => {
                if tx.send(Ok(chunk)).await.is_err() {
                    return Ok(());
                }
            }
            Err(e) => {
                let _ = tx.try_send(Err(e.clone()));
                return Err(e);
            }
        }
    }
}

/// Why a body read gave up: a refusal, or no body in time. A read that timed out is kept
/// (it owns the request's payload) until the 408 has been sent.
pub enum Refusal {
    Now(BodyError),
    Late(Pin<Box<dyn Future<Output = ()>>>),
}

impl Refusal {
    /// The answer. After a timeout, the unread payload travels with the 408's body: while
    /// it is alive actix does not drain a chunked body that may never end, and closes the
    /// connection once the answer is out.
    pub fn response(self, html: bool) -> HttpResponse {
        match self {
            Self::Now(error) => error.response(html),
            Self::Late(unread) => {
                let (head, body) = BodyError::TimedOut.response(html).into_parts();
                let bytes = body.try_into_bytes().unwrap_or_default();
                head.set_body(Holding {
                    bytes: Some(bytes),
                    _unread: unread,
                })
                .map_into_boxed_body()
            }
        }
    }
}

/// A fixed body that keeps `_unread` alive until the body has been sent.
struct Holding {
    bytes: Option<Bytes>,
    _unread: Pin<Box<dyn Future<Output = ()>>>,
}

impl MessageBody for Holding {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Sized(self.bytes.as_ref().map_or(0, |b| b.len() as u64))
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Poll::Ready(self.bytes.take().map(Ok))
    }
}

/// Runs a body read under `limit`. Most bodies are already buffered: only a body still
/// on its way arms the timer.
pub async fn within<T: 'static>(
    reading: impl Future<Output = Result<T, BodyError>> + 'static,
    limit: Duration,
) -> Result<T, Refusal> {
    let mut reading = Box::pin(reading);
    let first = std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(result) => result.map_err(Refusal::Now),
        Poll::Pending => match actix_rt::time::timeout(limit, reading.as_mut()).await {
            Ok(result) => result.map_err(Refusal::Now),
            Err(_) => Err(Refusal::Late(Box::pin(async move {
                let _ = reading.await;
            }))),
        },
    }
}

/// Reads the body up to `limit` bytes, refusing early when Content-Length already says
/// it is too large, and stopping once at least `stop` bytes are in. A single-chunk body
/// is passed on without copying.
async fn read_body(
    req: &HttpRequest,
    payload: &mut web::Payload,
    limit: usize,
    stop: usize,
) -> Result<Bytes, BodyError> {
    if declared_length(req).is_some_and(|len| len > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut total = 0usize;
    while total < stop {
        let Some(chunk) = payload.next().await else {
            break;
        };
        let chunk = chunk.map_err(unreadable)?;
        total += chunk.len();
        if total > limit {
            return Err(BodyError::TooLarge(limit));
        }
        match (&mut first, &mut buf) {
            (None, None) => first = Some(chunk),
            (Some(f), None) => {
                let mut b = BytesMut::with_capacity(f.len() + chunk.len());
                b.extend_from_slice(f);
                b.extend_from_slice(&chunk);
                first = None;
                buf = Some(b);
            }
            (_, Some(b)) => b.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, buf) {
        (_, Some(b)) => b.freeze(),
        (Some(f), None) => f,
        (None, None) => Bytes::new(),
    })
}
