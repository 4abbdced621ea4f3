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
use actix_web::http::KeepAlive;
use actix_web::{web, App, HttpServer};
use pyo3::exceptions::{PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyAny;
use socket2::{Domain, Protocol, Socket, Type};

use super::dispatch::entry;
use super::routes::build_routes;
use super::scheduling::set_batch_scheduling;
use super::settings::ServerSettings;
use crate::bridge::handle::Bridge;
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

/// A listening socket: TCP, or Unix (`--uds`, or one systemd passed).
enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
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

#[pyclass(frozen, module = "django_bolt._core")]
pub struct Server {
    handle: ServerHandle,
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
    #[pyo3(signature = (routes, bridge, settings, static_files=Vec::new(), fd=None))]
    fn new(
        py: Python<'_>,
        routes: &Bound<'_, PyAny>,
        bridge: &Bridge,
        settings: &ServerSettings,
        static_files: Vec<PyRef<'_, StaticFiles>>,
        fd: Option<i32>,
    ) -> PyResult<Self> {
        let (ws_stop, ws_shutdown) = tokio::sync::watch::channel(0u16);
        let ws_active = Arc::new(AtomicUsize::new(0));
        let state = web::Data::new(settings.app_state(
            build_routes(routes)?,
            Arc::clone(&bridge.core),
            Arc::clone(&ws_active),
            ws_shutdown,
            &static_files,
        )?);
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
                            .default_service(actix_web::dev::fn_service(entry))
                    })
                    .workers(workers)
                    .backlog(backlog as u32)
                    .keep_alive(keep_alive)
                    .client_request_timeout(Duration::from_secs_f64(header_timeout))
                    .shutdown_timeout(shutdown_timeout)
                    .disable_signals();
                    let server = match (listener, tls) {
                        (Listener::Tcp(l), Some(tls)) => server
                            .tls_handshake_timeout(Duration::from_secs_f64(header_timeout.max(1.0)))
                            .listen_rustls_0_23(l, tls)?,
                        (Listener::Tcp(l), None) => server.listen(l)?,
                        (Listener::Unix(l), _) => server.listen_uds(l)?,
                    }
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
                served,
                draining,
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
        self.ws_stop.send_replace(websocket_code.max(1000));
        let handle = self.handle.clone();
        std::thread::Builder::new()
            .name("bolt-stop".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                {
                    rt.block_on(async {
                        if graceful {
                            // Stop accepting first and let what was just accepted reach
                            // a worker: a graceful stop drops connections still queued
                            // for one, and those belong to the listening socket's other
                            // processes.
                            handle.pause().await;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        handle.stop(graceful).await;
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
