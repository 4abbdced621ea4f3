//! The server's settings as one object, built once from the Python config and taken by
//! both the real server and the in-process test app (so tests run with the same limits).

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokio::sync::watch;

use super::access_log::AccessLog;
use super::state::{AppState, HeadLimits};
use crate::bridge::queue::BridgeCore;
use crate::http::response_cache::ResponseCache;
use crate::policy::proxies::Net;
use crate::router::RouteTable;
use crate::staticfiles::static_files::StaticFiles;
use crate::ws::frames::Limits as WsLimits;
use crate::ws::handshake::ClientSlots;

#[pyclass(frozen, get_all, module = "django_bolt._core")]
#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Actix worker threads.
    pub workers: usize,
    pub backlog: i32,
    /// Idle keep-alive in seconds; 0 turns keep-alive off.
    pub keep_alive: f64,
    pub max_body_size: usize,
    /// The body limit of requests Django answers (not API routes).
    pub django_max_body_size: usize,
    /// Seconds a client may take to send the body once the headers are in.
    pub body_timeout: f64,
    /// Uploaded files larger than this go to a temporary file.
    pub spool_threshold: usize,
    /// Seconds in-flight requests get after a graceful stop.
    pub shutdown_timeout: u64,
    pub reuse_port: bool,
    pub batch_scheduling: bool,
    pub ws_max_message: usize,
    pub ws_ping_interval: f64,
    pub ws_ping_timeout: f64,
    /// Open WebSocket connections per process (0: no limit).
    pub ws_max_connections: usize,
    /// Open WebSocket connections per client address (0: no limit).
    pub ws_max_connections_per_client: usize,
    /// WebSockets to paths without a route go to the project's ASGI application.
    pub asgi_websockets: bool,
    /// One line per request (see `access_log_format`).
    pub access_log: bool,
    /// gunicorn's atoms, "json", or "" for the default line.
    pub access_log_format: String,
    /// Access lines through Python logging (`django_bolt.access`) instead of stderr.
    pub access_log_python: bool,
    /// Peers (addresses or networks) whose X-Forwarded-For and X-Request-ID are believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds a handler or Django view gets to start its answer (504 beyond; 0: none).
    pub timeout: f64,
    /// Requests in Python at once, per process (503 beyond; 0: no limit).
    pub max_pending: usize,
    /// Longest request line, in bytes (400 beyond).
    pub limit_request_line: usize,
    /// Longest header field (name and value), in bytes (431 beyond).
    pub limit_request_field_size: usize,
    /// Most header fields (431 beyond).
    pub limit_request_fields: usize,
    /// Seconds a new connection's first request head may take to arrive (408 beyond;
    /// 0: no limit).
    pub header_timeout: f64,
    /// Seconds a streamed response waits for a client that reads nothing (then it is
    /// abandoned and the connection dropped).
    pub send_timeout: f64,
    /// PEM certificate chain and private key: the socket speaks TLS (HTTP/2 by ALPN).
    pub ssl_certfile: String,
    pub ssl_keyfile: String,
    /// The path the site is mounted at behind a proxy ("" or "/app"): stripped from
    /// request paths before routing, given to Django as SCRIPT_NAME.
    pub root_path: String,
    /// Memory for the answers of `cache_page` routes kept in this process.
    pub cache_max_bytes: usize,
}

#[pymethods]
impl ServerSettings {
    #[new]
    #[pyo3(signature = (*, host="127.0.0.1".to_string(), port=8000, workers=1, backlog=1024,
                        keep_alive=5.0, max_body_size=10*1024*1024,
                        django_max_body_size=100*1024*1024, body_timeout=30.0,
                        spool_threshold=1024*1024, shutdown_timeout=30, reuse_port=true,
                        batch_scheduling=true, ws_max_message=1024*1024, ws_ping_interval=20.0,
                        ws_ping_timeout=20.0, ws_max_connections=0, ws_max_connections_per_client=0,
                        asgi_websockets=false,
                        access_log=false, access_log_format=String::new(),
                        access_log_python=false, trusted_proxies=Vec::new(), timeout=0.0,
                        max_pending=0, limit_request_line=4094,
                        limit_request_field_size=8190, limit_request_fields=100,
                        header_timeout=5.0, send_timeout=60.0, ssl_certfile=String::new(),
                        ssl_keyfile=String::new(), root_path=String::new(),
                        cache_max_bytes=64*1024*1024))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        host: String,
        port: u16,
        workers: usize,
        backlog: i32,
        keep_alive: f64,
        max_body_size: usize,
        django_max_body_size: usize,
        body_timeout: f64,
        spool_threshold: usize,
        shutdown_timeout: u64,
        reuse_port: bool,
        batch_scheduling: bool,
        ws_max_message: usize,
        ws_ping_interval: f64,
        ws_ping_timeout: f64,
        ws_max_connections: usize,
        ws_max_connections_per_client: usize,
        asgi_websockets: bool,
        access_log: bool,
        access_log_format: String,
        access_log_python: bool,
        trusted_proxies: Vec<String>,
        timeout: f64,
        max_pending: usize,
        limit_request_line: usize,
        limit_request_field_size: usize,
        limit_request_fields: usize,
        header_timeout: f64,
        send_timeout: f64,
        ssl_certfile: String,
        ssl_keyfile: String,
        root_path: String,
        cache_max_bytes: usize,
    ) -> PyResult<Self> {
        if workers == 0 {
            return Err(PyValueError::new_err("workers must be at least 1"));
        }
        if backlog < 1 {
            return Err(PyValueError::new_err("backlog must be at least 1"));
        }
        if max_body_size == 0 || django_max_body_size == 0 || ws_max_message == 0 {
            return Err(PyValueError::new_err(
                "max_body_size, django_max_body_size and ws_max_message must be positive",
            ));
        }
        let seconds = [
            keep_alive,
            body_timeout,
            ws_ping_interval,
            ws_ping_timeout,
            timeout,
        ];
        if seconds.iter().any(|s| !s.is_finite() || *s < 0.0) || body_timeout == 0.0 {
            return Err(PyValueError::new_err(
                "timeouts must be finite and not negative (body_timeout positive)",
            ));
        }
        if !send_timeout.is_finite() || send_timeout <= 0.0 {
            return Err(PyValueError::new_err("send_timeout must be positive"));
        }
        if limit_request_line == 0 || limit_request_field_size == 0 || limit_request_fields == 0 {
            return Err(PyValueError::new_err(
                "limit_request_line, limit_request_field_size and limit_request_fields must be positive",
            ));
        }
        // Refused here, at start, rather than when the first request is logged.
        AccessLog::new(&access_log_format, access_log_python, Vec::new())?;
        for net in &trusted_proxies {
            Net::parse(net)?;
        }
        if ssl_certfile.is_empty() != ssl_keyfile.is_empty() {
            return Err(PyValueError::new_err(
                "TLS needs both ssl_certfile and ssl_keyfile",
            ));
        }
        if !ssl_certfile.is_empty() {
            super::tls::load(&ssl_certfile, &ssl_keyfile).map_err(PyValueError::new_err)?;
        }
        let root_path = root_path.trim_end_matches('/').to_string();
        if !root_path.is_empty() && !root_path.starts_with('/') {
            return Err(PyValueError::new_err(format!(
                "root_path must start with '/' (got {root_path:?})"
            )));
        }
        Ok(Self {
            host,
            port,
            workers,
            backlog,
            keep_alive,
            max_body_size,
            django_max_body_size,
            body_timeout,
            spool_threshold,
            shutdown_timeout,
            reuse_port,
            batch_scheduling,
            ws_max_message,
            ws_ping_interval,
            ws_ping_timeout,
            ws_max_connections,
            ws_max_connections_per_client,
            asgi_websockets,
            access_log,
            access_log_format,
            access_log_python,
            trusted_proxies,
            timeout,
            max_pending,
            limit_request_line,
            limit_request_field_size,
            limit_request_fields,
            header_timeout,
            send_timeout,
            ssl_certfile,
            ssl_keyfile,
            root_path,
            cache_max_bytes,
        })
    }

    fn __repr__(&self) -> String {
        format!("{self:?}")
    }
}

impl ServerSettings {
    /// The state every request of one server (or test app) shares.
    pub fn app_state(
        &self,
        routes: RouteTable,
        bridge: Arc<BridgeCore>,
        ws_active: Arc<AtomicUsize>,
        ws_shutdown: watch::Receiver<u16>,
        statics: &[PyRef<'_, StaticFiles>],
    ) -> PyResult<AppState> {
        let trusted = self
            .trusted_proxies
            .iter()
            .map(|t| Net::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let access_log = if self.access_log {
            Some(Arc::new(AccessLog::new(
                &self.access_log_format,
                self.access_log_python,
                trusted.clone(),
            )?))
        } else {
            None
        };
        Ok(AppState {
            routes,
            bridge,
            max_body_size: self.max_body_size,
            django_max_body_size: self.django_max_body_size,
            body_timeout: Duration::from_secs_f64(self.body_timeout),
            spool_threshold: self.spool_threshold,
            ws: WsLimits::new(
                self.ws_max_message,
                self.ws_ping_interval,
                self.ws_ping_timeout,
            ),
            ws_active,
            ws_max_connections: self.ws_max_connections,
            ws_clients: (self.ws_max_connections_per_client > 0)
                .then(|| ClientSlots::new(self.ws_max_connections_per_client)),
            ws_shutdown,
            asgi_websockets: self.asgi_websockets,
            statics: statics
                .iter()
                .map(|s| (s.prefix.clone(), Arc::clone(&s.index)))
                .collect(),
            access_log,
            handler_timeout: (self.timeout > 0.0).then(|| Duration::from_secs_f64(self.timeout)),
            max_pending: self.max_pending,
            head_limits: HeadLimits {
                line: self.limit_request_line,
                field_size: self.limit_request_field_size,
                fields: self.limit_request_fields,
            },
            served: Arc::default(),
            draining: Arc::default(),
            trusted_proxies: trusted,
            root_path: self.root_path.clone(),
            secure: false,
            local_addr: (std::net::Ipv4Addr::LOCALHOST, 8080).into(),
            metrics: None,
            response_cache: Arc::new(ResponseCache::new(self.cache_max_bytes)),
            testing: false,
        })
    }
}
