//! The HTTP server: a listening socket (SO_REUSEPORT so processes share a port) served
//! by Actix workers on their own threads, started and stopped from Python.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpServer};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use socket2::{Domain, Protocol, Socket, Type};

use super::dispatch::dispatch;
use super::routes::build_routes;
use super::scheduling::set_batch_scheduling;
use super::state::AppState;
use crate::bridge::handle::Bridge;
use crate::ws::frames::Limits as WsLimits;

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

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Server {
    handle: ServerHandle,
    ws_stop: tokio::sync::watch::Sender<u16>,
    ws_active: Arc<AtomicUsize>,
    thread: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
    local_addr: SocketAddr,
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (routes, bridge, host="127.0.0.1", port=8000, workers=1, backlog=1024,
                        keep_alive=5.0, max_body_size=10*1024*1024, body_timeout=30.0, spool_threshold=1024*1024, shutdown_timeout=30,
                        reuse_port=true, batch_scheduling=true, ws_max_message=1024*1024,
                        ws_ping_interval=20.0, ws_ping_timeout=20.0, ws_max_connections=0,
                        asgi_websockets=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        routes: &Bound<'_, PyAny>,
        bridge: &Bridge,
        host: &str,
        port: u16,
        workers: usize,
        backlog: i32,
        keep_alive: f64,
        max_body_size: usize,
        body_timeout: f64,
        spool_threshold: usize,
        shutdown_timeout: u64,
        reuse_port: bool,
        batch_scheduling: bool,
        ws_max_message: usize,
        ws_ping_interval: f64,
        ws_ping_timeout: f64,
        ws_max_connections: usize,
        asgi_websockets: bool,
    ) -> PyResult<Self> {
        if workers == 0 {
            return Err(PyValueError::new_err("workers must be at least 1"));
        }
        let (ws_stop, ws_shutdown) = tokio::sync::watch::channel(0u16);
        let ws_active = Arc::new(AtomicUsize::new(0));
        let state = web::Data::new(AppState {
            routes: build_routes(routes)?,
            bridge: Arc::clone(&bridge.core),
            max_body_size,
            body_timeout: Duration::from_secs_f64(body_timeout.max(0.001)),
            spool_threshold,
            ws: WsLimits::new(ws_max_message, ws_ping_interval, ws_ping_timeout),
            ws_active: Arc::clone(&ws_active),
            ws_max_connections,
            ws_shutdown,
            asgi_websockets,
        });
        let listener = bind(host, port, backlog, reuse_port)
            .map_err(|e| PyOSError::new_err(format!("cannot listen on {host}:{port}: {e}")))?;
        let local_addr = listener.local_addr()?;
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
                    let server = HttpServer::new(move || {
                        // Runs once on each worker thread.
                        if batch_scheduling {
                            set_batch_scheduling();
                        }
                        App::new()
                            .app_data(state.clone())
                            .default_service(web::to(dispatch))
                    })
                    .workers(workers)
                    .backlog(backlog as u32)
                    .keep_alive(keep_alive)
                    .shutdown_timeout(shutdown_timeout)
                    .disable_signals()
                    .listen(listener)?
                    .run();
                    let _ = handle_tx.send(server.handle());
                    server.await
                })
            })?;
        let handle = py.detach(move || handle_rx.recv());
        match handle {
            Ok(handle) => Ok(Self {
                handle,
                ws_stop,
                ws_active,
                thread: Mutex::new(Some(thread)),
                local_addr,
            }),
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
        self.ws_stop.send_replace(websocket_code.max(1000));
        let handle = self.handle.clone();
        std::thread::Builder::new()
            .name("bolt-stop".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() {
                    rt.block_on(handle.stop(graceful));
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
