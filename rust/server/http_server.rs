//! The HTTP server: a listening socket served by Actix workers on their own threads,
//! started and stopped from Python. The socket is opened here, or handed over by Python
//! (`fd`): runbolt opens it once before forking its processes, so they all accept from
//! it and a process that stops accepting leaves nothing behind in its queue.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header::CACHE_CONTROL;
use actix_web::http::KeepAlive;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use socket2::{Domain, Protocol, Socket, Type};

use super::connection::{listen, HttpConfig, Listener};
use super::dispatch::entry;
use super::routes::build_routes;
use super::scheduling::set_batch_scheduling;
use super::settings::ServerSettings;
use crate::bridge::handle::Bridge;
use crate::metrics::{Metrics, Recorder};
use crate::staticfiles::static_files::StaticFiles;

fn bind(
    host: &str,
    port: u16,
    backlog: i32,
    reuse_port: bool,
) -> std::io::Result<std::net::TcpListener> {
    let addr: SocketAddr = (host, port).to_socket_addrs()?.next().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("cannot resolve {host}"),
        )
    })?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(backlog)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// A listening socket opened elsewhere (its descriptor is duplicated: the caller keeps
/// its own).
fn inherited(fd: i32) -> std::io::Result<Listener> {
    use std::os::fd::FromRawFd;
    // SAFETY: dup returns a new descriptor this process owns, or -1.
    let own = unsafe { libc::dup(fd) };
    if own < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `own` is a descriptor nothing else owns.
    let socket = unsafe { Socket::from_raw_fd(own) };
    if !socket.is_listener()? {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a listening socket",
        ));
    }
    socket.set_nonblocking(true)?;
    Ok(if socket.domain()? == Domain::UNIX {
        Listener::Unix(socket.into())
    } else {
        Listener::Tcp(socket.into())
    })
}

/// A stopping server waits for its connections to send nothing new for this long...
const QUIET: Duration = Duration::from_millis(100);
/// ...but no longer than this, before it closes those still open.
const DRAIN_AT_MOST: Duration = Duration::from_secs(3);

/// The metrics listener's one service: /metrics, /healthz, /readyz.
async fn answer_metrics(req: HttpRequest, recorder: web::Data<Recorder>) -> HttpResponse {
    let (status, content_type, body) = crate::metrics::answer(req.path(), &recorder);
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .content_type(content_type)
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(body)
}

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Server {
    handle: ServerHandle,
    metrics_handle: Option<ServerHandle>,
    recorder: Option<Recorder>,
    ws_stop: tokio::sync::watch::Sender<u16>,
    ws_active: Arc<AtomicUsize>,
    served: Arc<AtomicU64>,
    draining: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    local_addr: SocketAddr,
}

#[pymethods]
impl Server {
    #[new]
    /// `metrics` (with this process's `metrics_slot`) counts every request in the shared
    /// metrics; `metrics_fd` is the listening socket that answers /metrics, /healthz and
    /// /readyz.
    #[pyo3(signature = (routes, bridge, settings, static_files=Vec::new(), fd=None,
                        metrics=None, metrics_slot=0, metrics_fd=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        routes: &Bound<'_, PyAny>,
        bridge: &Bridge,
        settings: &ServerSettings,
        static_files: Vec<PyRef<'_, StaticFiles>>,
        fd: Option<i32>,
        metrics: Option<PyRef<'_, Metrics>>,
        metrics_slot: usize,
        metrics_fd: Option<i32>,
    ) -> PyResult<Self> {
        let (ws_stop, ws_shutdown) = tokio::sync::watch::channel(0u16);
        let ws_active = Arc::new(AtomicUsize::new(0));
        crate::bridge::stream::set_send_timeout(settings.send_timeout);
        let mut state = settings.app_state(
            build_routes(routes)?,
            Arc::clone(&bridge.core),
            Arc::clone(&ws_active),
            ws_shutdown,
            &static_files,
        )?;
        let recorder = metrics.map(|m| m.recorder(metrics_slot)).transpose()?;
        state.metrics = recorder.clone();
        let metrics_listener = match (metrics_fd, &recorder) {
            (Some(fd), Some(recorder)) => match inherited(fd)
                .map_err(|e| PyOSError::new_err(format!("cannot serve metrics socket {fd}: {e}")))?
            {
                Listener::Tcp(l) => Some((l, recorder.clone())),
                Listener::Unix(_) => {
                    return Err(PyOSError::new_err("the metrics socket must be TCP"));
                }
            },
            (Some(_), None) => {
                return Err(PyRuntimeError::new_err(
                    "a metrics socket needs the metrics region",
                ))
            }
            _ => None,
        };
        let served = Arc::clone(&state.served);
        let draining = Arc::clone(&state.draining);
        let ServerSettings {
            ref host,
            port,
            workers,
            backlog,
            keep_alive,
            shutdown_timeout,
            reuse_port,
            batch_scheduling,
            header_timeout,
            ref ssl_certfile,
            ref ssl_keyfile,
            ..
        } = *settings;
        let tls = if ssl_certfile.is_empty() {
            None
        } else {
            Some(super::tls::load(ssl_certfile, ssl_keyfile).map_err(PyOSError::new_err)?)
        };
        let listener =
            match fd {
                Some(fd) => inherited(fd)
                    .map_err(|e| PyOSError::new_err(format!("cannot serve socket {fd}: {e}")))?,
                None => Listener::Tcp(bind(host, port, backlog, reuse_port).map_err(|e| {
                    PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}"))
                })?),
            };
        if tls.is_some() && matches!(listener, Listener::Unix(_)) {
            return Err(PyOSError::new_err(
                "TLS is served on TCP sockets only (a Unix socket sits behind a proxy, which \
                 terminates TLS)",
            ));
        }
        // A Unix socket has no address of its own: SERVER_NAME/PORT come from settings.
        let local_addr = match &listener {
            Listener::Tcp(l) => l.local_addr()?,
            Listener::Unix(_) => (std::net::Ipv4Addr::LOCALHOST, 0).into(),
        };
        state.secure = tls.is_some();
        if let Listener::Tcp(_) = listener {
            state.local_addr = local_addr;
        }
        let state = web::Data::new(state);
        let keep_alive = if keep_alive > 0.0 {
            KeepAlive::Timeout(Duration::from_secs_f64(keep_alive))
        } else {
            KeepAlive::Disabled
        };
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bolt-server".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                system.block_on(async move {
                    let app = move || {
                        // Runs once on each worker thread.
                        if batch_scheduling {
                            set_batch_scheduling();
                        }
                        App::new()
                            .app_data(state.clone())
                            .default_service(actix_web::dev::fn_service(entry))
                    };
                    let builder = actix_server::Server::build()
                        .workers(workers)
                        .backlog(backlog as u32)
                        .shutdown_timeout(shutdown_timeout)
                        .disable_signals();
                    let http = HttpConfig {
                        keep_alive,
                        header_timeout: Duration::from_secs_f64(header_timeout),
                        local_addr,
                    };
                    let handshake = Duration::from_secs_f64(header_timeout.max(1.0));
                    let tls = tls.map(|config| (config, handshake));
                    let server = listen(builder, listener, tls, http, app)?.run();
                    let metrics_server = match metrics_listener {
                        Some((listener, recorder)) => Some(
                            HttpServer::new(move || {
                                App::new()
                                    .app_data(web::Data::new(recorder.clone()))
                                    .default_service(web::to(answer_metrics))
                            })
                            .workers(1)
                            .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
                            .client_request_timeout(Duration::from_secs(5))
                            .shutdown_timeout(1)
                            .disable_signals()
                            .listen(listener)?
                            .run(),
                        ),
                        None => None,
                    };
                    let handles = (server.handle(), metrics_server.as_ref().map(|m| m.handle()));
                    let _ = handle_tx.send(handles);
                    match metrics_server {
                        Some(metrics_server) => {
                            let (main, metrics) = futures_util::join!(server, metrics_server);
                            main.and(metrics)
                        }
                        None => server.await,
                    }
                })
            })?;
        let handle = py.detach(move || handle_rx.recv());
        match handle {
            Ok((handle, metrics_handle)) => {
                if let Some(recorder) = &recorder {
                    recorder.serving();
                }
                Ok(Self {
                    handle,
                    metrics_handle,
                    recorder,
                    ws_stop,
                    ws_active,
                    served,
                    draining,
                    thread: Mutex::new(Some(thread)),
                    local_addr,
                })
            }
            Err(_) => {
                let err = thread
                    .join()
                    .map_err(|_| PyRuntimeError::new_err("server thread panicked"))?;
                Err(PyRuntimeError::new_err(format!(
                    "server failed to start: {err:?}"
                )))
            }
        }
    }

    /// Requests received so far.
    #[getter]
    fn requests(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Open WebSocket connections.
    #[getter]
    fn websocket_connections(&self) -> usize {
        self.ws_active.load(Ordering::Acquire)
    }

    #[getter]
    fn port(&self) -> u16 {
        self.local_addr.port()
    }

    #[getter]
    fn host(&self) -> String {
        self.local_addr.ip().to_string()
    }

    /// Stops accepting connections; with `graceful`, in-flight requests finish first
    /// (bounded by the shutdown timeout). WebSocket connections are closed with
    /// `websocket_code` (1001 "going away"; 1012 when the server restarts). Returns at
    /// once; `wait()` blocks until done.
    #[pyo3(signature = (graceful=true, websocket_code=1001))]
    fn stop(&self, graceful: bool, websocket_code: u16) -> PyResult<()> {
        self.draining.store(true, Ordering::Relaxed);
        if let Some(recorder) = &self.recorder {
            recorder.draining();
        }
        self.ws_stop.send_replace(websocket_code.max(1000));
        let handle = self.handle.clone();
        let metrics_handle = self.metrics_handle.clone();
        let served = Arc::clone(&self.served);
        std::thread::Builder::new()
            .name("bolt-stop".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    rt.block_on(async {
                        if graceful {
                            // Stop accepting, then keep serving the open connections
                            // until they go quiet: each answer now says Connection:
                            // close, so a client in the middle of a series of requests
                            // moves to another process instead of having its idle
                            // connection closed under a request it is sending.
                            handle.pause().await;
                            let deadline = tokio::time::Instant::now() + DRAIN_AT_MOST;
                            let mut seen = served.load(Ordering::Relaxed);
                            loop {
                                tokio::time::sleep(QUIET).await;
                                let now = served.load(Ordering::Relaxed);
                                if now == seen || tokio::time::Instant::now() >= deadline {
                                    break;
                                }
                                seen = now;
                            }
                        }
                        handle.stop(graceful).await;
                        if let Some(metrics) = metrics_handle {
                            metrics.stop(false).await;
                        }
                    });
                }
            })?;
        Ok(())
    }

    /// Blocks (GIL released) until the server has stopped.
    fn wait(&self, py: Python<'_>) -> PyResult<()> {
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let result = py.detach(move || thread.join());
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(PyOSError::new_err(e.to_string())),
                Err(_) => return Err(PyRuntimeError::new_err("server thread panicked")),
            }
        }
        Ok(())
    }
}
