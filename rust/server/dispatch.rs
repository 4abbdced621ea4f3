//! The single Actix service: route in Rust, enforce limits, then hand over to Python.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::http::header::{self, CONTENT_LENGTH};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};

use crate::auth::Identity;
use crate::bridge::BridgeCore;
use crate::compress::{self, CompressedBody, CompressionPolicy};
use crate::cors::CorsPolicy;
use crate::form::{self, FormError, FormLimits, ParsedForm};
use crate::job::{Job, Reply, RequestParts, StreamWaker, DJANGO_FALLBACK};
use crate::policy::{Gate, PolicyCore, RequestView};
use crate::router::{Lookup, RouteTable, WEBSOCKET};
use crate::websocket::{finish_handshake, Conn, Limits, Shared as WsShared, Slot};

pub struct AppState {
    pub routes: RouteTable,
    pub bridge: Arc<BridgeCore>,
    pub max_body_size: usize,
    /// How long a client may take to send the body once the headers are in.
    pub body_timeout: Duration,
    /// Uploaded files larger than this go to a temporary file.
    pub spool_threshold: usize,
    /// WebSocket message size limit and keep-alive.
    pub ws: Limits,
    /// Open WebSocket connections and the most allowed (0: no limit).
    pub ws_active: Arc<AtomicUsize>,
    pub ws_max_connections: usize,
    /// Becomes the close code (1001, 1012) when the server stops.
    pub ws_shutdown: watch::Receiver<u16>,
    /// WebSockets to paths without a route go to the project's ASGI application.
    pub asgi_websockets: bool,
}

fn is_multipart(req: &HttpRequest) -> Option<&str> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    ct.trim_start()
        .get(..19)
        .filter(|p| p.eq_ignore_ascii_case("multipart/form-data"))
        .map(|_| ct)
}

fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Reads the body, or for an API route receiving multipart/form-data, parses it.
async fn read_input(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    api_route: bool,
) -> Result<(Bytes, Option<ParsedForm>), HttpResponse> {
    let content_type = if api_route { is_multipart(req) } else { None };
    let Some(content_type) = content_type else {
        return read_body(req, payload, state.max_body_size)
            .await
            .map(|b| (b, None));
    };
    if declared_length(req).is_some_and(|len| len > state.max_body_size as u64) {
        return Err(too_large(state.max_body_size));
    }
    let limits = FormLimits {
        max_body: state.max_body_size,
        spool_threshold: state.spool_threshold,
    };
    let parsed = match form::boundary(content_type) {
        Ok(boundary) => form::parse_multipart(payload, boundary, &limits).await,
        Err(e) => Err(e),
    };
    match parsed {
        Ok(form) => Ok((Bytes::new(), Some(form))),
        Err(FormError::TooLarge(limit)) => Err(too_large(limit)),
        Err(FormError::Malformed(msg)) => Err(json_error(StatusCode::BAD_REQUEST, &msg)),
    }
}

/// Writes `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn json_error(status: StatusCode, detail: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(format!("{{\"detail\":{}}}", json_string(detail)))
}

/// `json_error` for a fixed body (`{"detail": ...}` written out), without formatting.
pub fn static_error(status: StatusCode, body: &'static [u8]) -> HttpResponse {
    let mut resp = HttpResponse::with_body(status, Bytes::from_static(body));
    resp.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static("application/json"),
    );
    resp.map_into_boxed_body()
}

fn too_large(limit: usize) -> HttpResponse {
    json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("Request body is larger than the limit of {limit} bytes"),
    )
}

/// Reads the body up to `limit` bytes, refusing early when Content-Length already says
/// it is too large. A single-chunk body is passed on without copying.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, HttpResponse> {
    if declared_length(req).is_some_and(|len| len > limit as u64) {
        return Err(too_large(limit));
    }
    let mut first: Option<Bytes> = None;
    let mut buf: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            json_error(
                StatusCode::BAD_REQUEST,
                &format!("Could not read the request body: {e}"),
            )
        })?;
        total += chunk.len();
        if total > limit {
            return Err(too_large(limit));
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

fn decode_param(raw: &str) -> Option<String> {
    if !raw.contains('%') {
        return Some(raw.to_owned());
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            match u8::from_str_radix(hex, 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            }
        } else {
            out.push(bytes[i]);
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    if CorsPolicy::is_preflight(req.method(), req.headers()) {
        if let Some(resp) = preflight(&req, &state) {
            return resp;
        }
    }
    if is_websocket_upgrade(&req) {
        if let Lookup::Found { target, params } = state.routes.lookup(WEBSOCKET, req.path()) {
            let (route_id, policy) = (target.route_id as i64, target.policy.clone());
            return serve_websocket(req, payload, state, route_id, policy, params).await;
        }
        if state.asgi_websockets {
            // No route of ours: the project's ASGI application (Channels) takes it.
            return serve_websocket(req, payload, state, DJANGO_FALLBACK, None, Vec::new()).await;
        }
    }
    let (route_id, blocking, params, policy) =
        match state.routes.lookup(req.method().as_str(), req.path()) {
            Lookup::Found { target, params } => {
                let Some(decoded) = decode_params(params) else {
                    return bad_path();
                };
                (
                    target.route_id as i64,
                    target.blocking,
                    decoded,
                    target.policy.clone(),
                )
            }
            Lookup::MethodNotAllowed { allow } => {
                let mut resp = json_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(allow) {
                    resp.headers_mut().insert(actix_web::http::header::ALLOW, v);
                }
                return resp;
            }
            Lookup::NotFound => (DJANGO_FALLBACK, true, Vec::new(), None),
        };
    let (identity, python_gate) = match run_gate(&req, policy.as_deref()).await {
        Ok(pass) => pass,
        Err(refusal) => return refusal,
    };
    let mut reading = Box::pin(read_input(
        &req,
        payload,
        &state,
        route_id != DJANGO_FALLBACK,
    ));
    // Most bodies are already buffered: only a body still on its way arms the timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(reading.as_mut().poll(cx))).await;
    let outcome = match first {
        Poll::Ready(result) => Ok(result),
        Poll::Pending => actix_rt::time::timeout(state.body_timeout, reading).await,
    };
    let (body, form) = match outcome {
        Ok(Ok(input)) => input,
        Ok(Err(resp)) => return resp,
        Err(_) => {
            let mut resp = json_error(
                StatusCode::REQUEST_TIMEOUT,
                "The request body was not received in time",
            );
            resp.head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            return resp;
        }
    };
    let parts = RequestParts {
        route_id,
        method: req.method().clone(),
        uri: req.uri().clone(),
        headers: req.headers().clone(),
        body,
        form,
        params,
        peer: req.peer_addr(),
        server: req.app_config().local_addr(),
        identity,
        python_gate,
        websocket: None,
    };
    let (tx, rx) = oneshot::channel();
    let job = Job::new(parts, tx, Arc::clone(&state.bridge));
    let submitted = if blocking {
        state.bridge.submit_blocking(job)
    } else {
        state.bridge.submit_async(job)
    };
    if !submitted {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        );
    }
    let resp = match rx.await {
        Ok(reply) => into_response(reply, &req, policy.as_deref()),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    };
    match policy.as_deref() {
        Some(policy) => {
            let mut resp = resp;
            policy.finish(req.headers(), resp.headers_mut());
            resp
        }
        None => resp,
    }
}

/// Rate limit, authentication and guards for a request: the identity and whether Python
/// authentication or guards are still to run, or the refusal (with its CORS headers).
async fn run_gate(
    req: &HttpRequest,
    policy: Option<&PolicyCore>,
) -> Result<(Option<Identity>, bool), HttpResponse> {
    let Some(policy) = policy.filter(|p| p.needs_gate()) else {
        return Ok((None, false));
    };
    let view = RequestView {
        method: req.method(),
        headers: req.headers(),
        query: req.query_string(),
        peer: req.peer_addr().map(|a| a.ip()),
    };
    let gate = if policy.gate_is_immediate() {
        // Nothing to wait for: run it here, so its state never enters the caller's future.
        let mut fut = std::pin::pin!(policy.gate(&view));
        match fut
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            Poll::Ready(gate) => gate,
            // Cannot happen (nothing in an immediate gate waits); never hang if it did.
            Poll::Pending => Gate::Reject(json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            )),
        }
    } else {
        // Boxed: the state of Redis calls stays out of every request's future.
        Box::pin(policy.gate(&view)).await
    };
    match gate {
        Gate::Reject(mut resp) => {
            policy.finish(req.headers(), resp.headers_mut());
            Err(resp)
        }
        Gate::Pass { identity, python } => Ok((identity, python)),
    }
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn decode_params(params: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
    params
        .into_iter()
        .map(|(name, raw)| decode_param(&raw).map(|v| (name, v)))
        .collect()
}

fn bad_path() -> HttpResponse {
    json_error(
        StatusCode::BAD_REQUEST,
        "The request path is not valid UTF-8",
    )
}

/// A WebSocket handshake for a route: authenticate, let the handler accept or close,
/// then hand the connection to the frame task.
async fn serve_websocket(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    route_id: i64,
    policy: Option<Arc<PolicyCore>>,
    params: Vec<(String, String)>,
) -> HttpResponse {
    if let Err(e) = actix_http::ws::handshake(req.head()) {
        return json_error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid WebSocket handshake: {e}"),
        );
    }
    let Some(params) = decode_params(params) else {
        return bad_path();
    };
    if let Some(check) = policy.as_deref().and_then(|p| p.ws_origins.as_ref()) {
        let origin = req.headers().get(header::ORIGIN);
        let text = origin.map(|o| o.to_str().unwrap_or("\u{fffd}"));
        if !check.allows(text) {
            return json_error(
                StatusCode::FORBIDDEN,
                &format!(
                    "Origin {} may not open this WebSocket",
                    text.unwrap_or_default()
                ),
            );
        }
    }
    let Some(slot) = Slot::take(&state.ws_active, state.ws_max_connections) else {
        let mut resp = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many WebSocket connections; try again later",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return resp;
    };
    let (identity, python_gate) = match run_gate(&req, policy.as_deref()).await {
        Ok(pass) => pass,
        Err(refusal) => return refusal,
    };
    let (shared, outgoing) = WsShared::new(Arc::clone(&state.bridge));
    let parts = RequestParts {
        route_id,
        method: req.method().clone(),
        uri: req.uri().clone(),
        headers: req.headers().clone(),
        body: Bytes::new(),
        form: None,
        params,
        peer: req.peer_addr(),
        server: req.app_config().local_addr(),
        identity,
        python_gate,
        websocket: Some(Arc::clone(&shared)),
    };
    let (tx, rx) = oneshot::channel();
    let job = Job::new(parts, tx, Arc::clone(&state.bridge));
    if !state.bridge.submit_async(job) {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is shutting down",
        );
    }
    let limits = state.ws;
    match rx.await {
        Ok(Reply::WebSocket(decision)) => {
            let conn = Conn {
                slot,
                shutdown: state.ws_shutdown.clone(),
            };
            finish_handshake(&req, payload, decision, shared, outgoing, limits, conn)
        }
        // The handler refused with an HTTP answer (an exception before accept()).
        Ok(reply) => build_response(reply, &req),
        Err(_) => json_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

/// Answers a CORS preflight from the policy of the route the real request would reach.
fn preflight(req: &HttpRequest, state: &AppState) -> Option<HttpResponse> {
    let requested = req
        .headers()
        .get("access-control-request-method")?
        .to_str()
        .ok()?
        .trim();
    match state.routes.lookup(requested, req.path()) {
        Lookup::Found { target, .. } => target
            .policy
            .as_ref()?
            .preflight(req.method(), req.headers()),
        // No route for that method: a CORS policy on the path refuses it by name.
        Lookup::MethodNotAllowed { allow } => {
            allow
                .split(", ")
                .find_map(|method| match state.routes.lookup(method, req.path()) {
                    Lookup::Found { target, .. } => target
                        .policy
                        .as_ref()?
                        .preflight(req.method(), req.headers()),
                    _ => None,
                })
        }
        Lookup::NotFound => None,
    }
}

/// Compresses a response the policy allows, for a client that accepts it.
fn compress_response(
    resp: HttpResponse,
    policy: &CompressionPolicy,
    req: &HttpRequest,
) -> HttpResponse {
    if req.method() == actix_web::http::Method::HEAD
        || !policy.applies(resp.status().as_u16(), resp.headers())
    {
        return resp;
    }
    match resp.body().size() {
        BodySize::None => return resp,
        BodySize::Sized(n) if (n as usize) < policy.minimum_size => return resp,
        _ => {}
    }
    let Some(enc) = policy.negotiate(req.headers()) else {
        let mut resp = resp;
        resp.headers_mut().append(
            actix_web::http::header::VARY,
            actix_web::http::header::HeaderValue::from_static("Accept-Encoding"),
        );
        return resp;
    };
    let (mut head, body) = resp.into_parts();
    match body.try_into_bytes() {
        Ok(bytes) => match compress::compress(enc, &bytes) {
            Ok(out) => {
                compress::mark(head.headers_mut(), enc);
                head.set_body(BoxBody::new(out))
            }
            Err(_) => head.set_body(BoxBody::new(bytes)),
        },
        Err(body) => match CompressedBody::new(body, enc) {
            Ok(stream) => {
                compress::mark(head.headers_mut(), enc);
                head.set_body(BoxBody::new(stream))
            }
            Err(_) => head.set_body(BoxBody::new(bytes::Bytes::new())),
        },
    }
}

fn into_response(reply: Reply, req: &HttpRequest, policy: Option<&PolicyCore>) -> HttpResponse {
    let compression = policy.and_then(|p| p.compression.as_ref());
    if let (Some(c), false) = (compression, matches!(reply, Reply::File { .. })) {
        return compress_response(build_response(reply, req), c, req);
    }
    build_response(reply, req)
}

fn build_response(reply: Reply, req: &HttpRequest) -> HttpResponse {
    match reply {
        Reply::File {
            file,
            status,
            headers,
        } => {
            let mut resp = file.into_response(req);
            // A custom status replaces a plain 200 (not 206 / 304 / 412 answers to
            // range and conditional requests).
            if resp.status() == StatusCode::OK && status != 200 {
                *resp.status_mut() = status_code(status);
            }
            let map = resp.headers_mut();
            for (k, v) in headers {
                map.append(k, v);
            }
            resp
        }
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let mut resp = HttpResponse::with_body(status_code(status), body);
            let map = resp.headers_mut();
            for (k, v) in headers {
                map.append(k, v);
            }
            resp.map_into_boxed_body()
        }
        Reply::WebSocket(_) => json_error(
            StatusCode::BAD_REQUEST,
            "A WebSocket answer to a request that is not a WebSocket handshake",
        ),
        Reply::Stream {
            status,
            headers,
            chunks,
            waker,
        } => {
            let mut size = BodySize::Stream;
            let mut kept = Vec::with_capacity(headers.len());
            for (k, v) in headers {
                if k == CONTENT_LENGTH {
                    if let Some(n) = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
                        size = BodySize::Sized(n);
                        continue;
                    }
                }
                kept.push((k, v));
            }
            let mut resp = HttpResponse::with_body(
                status_code(status),
                ChannelBody {
                    chunks,
                    size,
                    waker,
                },
            );
            let map = resp.headers_mut();
            for (k, v) in kept {
                map.append(k, v);
            }
            resp.map_into_boxed_body()
        }
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A response body fed chunk by chunk from Python. Dropping it (client gone) closes the
/// channel, which the producer sees as a failed write.
struct ChannelBody {
    chunks: mpsc::Receiver<Bytes>,
    size: BodySize,
    waker: Arc<StreamWaker>,
}

impl Drop for ChannelBody {
    fn drop(&mut self) {
        self.waker.ended();
    }
}

impl MessageBody for ChannelBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        self.size
    }

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = self.chunks.poll_recv(cx);
        if let Poll::Ready(Some(_)) = &polled {
            self.waker.made_room();
        }
        polled.map(|c| c.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes_in_params() {
        assert_eq!(decode_param("plain").as_deref(), Some("plain"));
        assert_eq!(decode_param("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_param("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(decode_param("100%").as_deref(), Some("100%"));
        assert_eq!(decode_param("%zz").as_deref(), Some("%zz"));
        assert_eq!(decode_param("%FF%FE"), None);
    }

    #[test]
    fn escapes_json_strings() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
