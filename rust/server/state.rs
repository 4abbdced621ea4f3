//! What every request of one server (or test app) shares.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::access_log::AccessLog;
use tokio::sync::oneshot;

use crate::bridge::parts::{Reply, RequestParts};
use crate::bridge::queue::{BridgeCore, NotHandedOver};
use crate::http::form::FormLimits;
use crate::http::response_cache::ResponseCache;
use crate::metrics::Recorder;
use crate::policy::proxies::Net;
use crate::router::RouteTable;
use crate::staticfiles::index::StaticIndex;
use crate::ws::frames::Limits;
use crate::ws::handshake::ClientSlots;

pub struct AppState {
    pub routes: RouteTable,
    pub bridge: Arc<BridgeCore>,
    pub max_body_size: usize,
    /// The body limit of Django's own paths (admin uploads, Django views).
    pub django_max_body_size: usize,
    /// How long a client may take to send the body once the headers are in.
    pub body_timeout: Duration,
    /// Uploaded files larger than this go to a temporary file.
    pub spool_threshold: usize,
    /// WebSocket message size limit and keep-alive.
    pub ws: Limits,
    /// Open WebSocket connections and the most allowed (0: no limit).
    pub ws_active: Arc<AtomicUsize>,
    pub ws_max_connections: usize,
    /// Open WebSocket connections per client address (None: no limit).
    pub ws_clients: Option<Arc<ClientSlots>>,
    /// Becomes the close code (1001, 1012) when the server stops.
    pub ws_shutdown: watch::Receiver<u16>,
    /// WebSockets to paths without a route go to the project's ASGI application.
    pub asgi_websockets: bool,
    /// Static directories served from Rust: (URL prefix, index).
    pub statics: Vec<(String, Arc<StaticIndex>)>,
    /// The access log, when on.
    pub access_log: Option<Arc<AccessLog>>,
    /// How long Python gets to start an answer (504 beyond).
    pub handler_timeout: Option<Duration>,
    /// Requests in Python at once (503 beyond; 0: no limit).
    pub max_pending: usize,
    pub head_limits: HeadLimits,
    /// Requests received so far (the process's recycling budget counts them).
    pub served: Arc<AtomicU64>,
    /// Set once the server stops: answers then close their connection.
    pub draining: Arc<AtomicBool>,
    /// Proxies whose forwarded client address and scheme are believed.
    pub trusted_proxies: Vec<Net>,
    /// Where a proxy mounts the site ("" or "/app", no trailing slash).
    pub root_path: String,
    /// Served over TLS (the scheme Django sees, the HSTS header).
    pub secure: bool,
    /// The listening address (SERVER_NAME and SERVER_PORT).
    pub local_addr: std::net::SocketAddr,
    /// This process's slot in the shared metrics (`--metrics-port`).
    pub metrics: Option<Recorder>,
    /// The answers of `cache_page` routes, served again without Python.
    pub response_cache: Arc<ResponseCache>,
    /// The in-process test app: requests may carry a forced identity.
    pub testing: bool,
}

/// gunicorn's limits on a request's head.
#[derive(Clone, Copy)]
pub struct HeadLimits {
    pub line: usize,
    pub field_size: usize,
    pub fields: usize,
}

impl AppState {
    /// A request's parts as Python will see them (client, scheme, root path).
    pub fn parts(
        &self,
        req: &actix_web::HttpRequest,
        route_id: i64,
        params: Vec<(String, String)>,
    ) -> RequestParts {
        RequestParts::new(
            req,
            route_id,
            params,
            &self.trusted_proxies,
            &self.root_path,
            (self.secure, self.local_addr),
        )
    }

    /// Hands a request to Python within `--max-pending`, counting it in the metrics.
    pub fn hand_over(
        &self,
        parts: RequestParts,
        blocking: bool,
    ) -> Result<oneshot::Receiver<Reply>, NotHandedOver> {
        let handed = self.bridge.hand_over(parts, blocking, self.max_pending)?;
        if let Some(metrics) = &self.metrics {
            metrics.to_python();
        }
        Ok(handed)
    }

    /// Body and multipart limits for one request.
    #[inline]
    pub fn form_limits(&self) -> FormLimits {
        FormLimits {
            max_body: self.max_body_size,
            spool_threshold: self.spool_threshold,
        }
    }
}
