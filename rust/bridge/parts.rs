//! One request as Rust hands it to Python, and the answers Python can give.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use actix_http::header::{HeaderMap, HOST};
use actix_http::{Method, Uri};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::input::InputState;
use super::response_args::HeaderList;
use super::stream::StreamWaker;
use crate::auth::identity::Identity;
use crate::http::form::ParsedForm;
use crate::policy::proxies::{client_ip, forwarded_scheme, Net};
use crate::ws::channel::Shared as WsShared;
use crate::ws::handshake::Decision;

/// Route id used for requests that go to Django's own handler.
pub const DJANGO_FALLBACK: i64 = -1;

pub struct RequestParts {
    pub route_id: i64,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// For a Django request whose body is still arriving: the rest, after `body`.
    pub input: Option<Arc<Mutex<InputState>>>,
    /// multipart/form-data already parsed (API routes only).
    pub form: Option<ParsedForm>,
    pub params: Vec<(String, String)>,
    pub peer: Option<SocketAddr>,
    /// How much of the path is the root path (`--root-path`): Django's SCRIPT_NAME.
    pub script_name_len: usize,
    /// "https" when a trusted proxy says the client used it, else "http".
    pub scheme: &'static str,
    /// The local address the request arrived on, for SERVER_NAME / SERVER_PORT.
    pub server: SocketAddr,
    /// Who the request authenticated as in Rust.
    pub identity: Option<Identity>,
    /// Python authentication or guards still have to run before the handler.
    pub python_gate: bool,
    /// Set for a WebSocket handshake: the connection's shared state.
    pub websocket: Option<Arc<WsShared>>,
}

impl RequestParts {
    /// A request's parts with no body, identity or WebSocket yet.
    /// From a `trusted` proxy, the client's address and scheme are the ones it forwards.
    /// Under a `root` path (`--root-path`), Python sees the path with it, as the client
    /// asked for it through the proxy (routing in Rust used the path without it).
    pub fn new(
        req: &actix_web::HttpRequest,
        route_id: i64,
        params: Vec<(String, String)>,
        trusted: &[Net],
        root: &str,
        (tls, server): (bool, SocketAddr),
    ) -> Self {
        let mut headers = req.headers().clone();
        if !headers.contains_key(HOST) {
            // HTTP/2 names the host in the :authority pseudo-header, not in Host.
            if let Some(host) = req.uri().authority().and_then(|a| a.as_str().parse().ok()) {
                headers.insert(HOST, host);
            }
        }
        let mut peer = req.peer_addr();
        let mut scheme = if tls { "https" } else { "http" };
        if let Some(addr) = peer.filter(|p| trusted.iter().any(|n| n.contains(&p.ip()))) {
            if let Some(client) = client_ip(Some(addr.ip()), &headers, trusted) {
                if client != addr.ip() {
                    peer = Some(SocketAddr::new(client, 0));
                }
            }
            scheme = forwarded_scheme(&headers).unwrap_or(scheme);
        }
        let uri = if root.is_empty() {
            req.uri().clone()
        } else {
            under_root(root, req.uri())
        };
        Self {
            route_id,
            method: req.method().clone(),
            uri,
            headers,
            body: Bytes::new(),
            input: None,
            form: None,
            params,
            peer,
            script_name_len: root.len(),
            scheme,
            server,
            identity: None,
            python_gate: false,
            websocket: None,
        }
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }
}

/// `uri` with `root` put back in front of its path.
fn under_root(root: &str, uri: &Uri) -> Uri {
    let path = match uri.path() {
        "/" => root.to_string(),
        p => format!("{root}{p}"),
    };
    let target = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    target.parse().unwrap_or_else(|_| uri.clone())
}

pub enum Reply {
    File {
        file: Box<actix_files::NamedFile>,
        status: u16,
        headers: HeaderList,
    },
    Full {
        status: u16,
        headers: HeaderList,
        body: Bytes,
    },
    Stream {
        status: u16,
        headers: HeaderList,
        chunks: mpsc::Receiver<Bytes>,
        waker: Arc<StreamWaker>,
    },
    /// A WebSocket handler accepted or closed the handshake.
    WebSocket(Decision),
}
