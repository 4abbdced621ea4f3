//! One accepted connection as Actix reads it, watched: every request head after the
//! first must arrive within the header timeout of its first byte (Actix times the first
//! head of a connection itself), and a chunk size no client would send is refused before
//! its data is awaited. A late head ends the connection the way Actix ends a late first
//! one: whatever responses are in flight are finished, then `408 Request Timeout`, then
//! the connection is closed.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, KeepAlive, Protocol, Request, Response};
use actix_rt::net::{TcpStream, UnixStream};
use actix_server::GracefulShutdownSignal;
use actix_server::ServerBuilder;
use actix_service::{
    fn_service, map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt,
};
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_web::dev::AppConfig;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::http::framing::Framing;

/// Sent after the in-flight responses when a head came too late.
const LATE_HEAD: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

pub struct Watched<T> {
    io: T,
    /// None: not observed (HTTP/2 frames its own requests; no header timeout).
    framing: Option<Box<Framing>>,
    header_timeout: Duration,
    /// The timer of the head in progress, and which head it is for.
    timer: Option<(u64, Pin<Box<Sleep>>)>,
    /// Set once a head came too late: reads end, and shutting down sends the 408 first.
    late: bool,
    /// How much of the 408 has been written.
    sent: usize,
}

impl<T> Watched<T> {
    /// `header_timeout` of zero: heads are not timed.
    pub fn new(io: T, protocol: Protocol, header_timeout: Duration) -> Self {
        let framing = match protocol {
            Protocol::Http1 => Some(Box::new(Framing::new())),
            _ => None,
        };
        Self {
            io,
            framing,
            header_timeout,
            timer: None,
            late: false,
            sent: 0,
        }
    }

    /// After new bytes: start, keep or drop the timer of the head in progress.
    fn follow(&mut self) {
        let Some(framing) = &self.framing else {
            return;
        };
        // The first head is Actix's own to time (from the connection's start).
        if !framing.in_head() || framing.heads() < 2 || self.header_timeout.is_zero() {
            self.timer = None;
            if framing.off() {
                self.framing = None;
            }
            return;
        }
        let head = framing.heads();
        match &self.timer {
            Some((timed, sleep)) if *timed == head => {
                if sleep.deadline() <= Instant::now() {
                    self.late = true;
                }
            }
            _ => {
                self.timer = Some((head, Box::pin(tokio::time::sleep(self.header_timeout))));
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.late {
            // The end of input: Actix finishes what is in flight, then shuts down.
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &mut buf.filled_mut()[before..];
                if let (Some(framing), false) = (&mut this.framing, new.is_empty()) {
                    framing.feed(new);
                    this.follow();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                let expired = match &mut this.timer {
                    Some((_, sleep)) => sleep.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if !expired {
                    return Poll::Pending;
                }
                this.late = true;
                this.timer = None;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.late {
            // Actix has written everything it had: the 408 comes last.
            while this.sent < LATE_HEAD.len() {
                match Pin::new(&mut this.io).poll_write(cx, &LATE_HEAD[this.sent..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => break,
                    Poll::Ready(Ok(n)) => this.sent += n,
                    Poll::Pending => return Poll::Pending,
                }
            }
            this.sent = LATE_HEAD.len();
            if Pin::new(&mut this.io).poll_flush(cx).is_pending() {
                return Poll::Pending;
            }
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// A listening socket: TCP, or Unix (`--uds`, or one systemd passed).
pub enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

/// How the HTTP service on each accepted connection is set up.
#[derive(Clone)]
pub struct HttpConfig {
    pub keep_alive: KeepAlive,
    pub header_timeout: Duration,
    pub local_addr: SocketAddr,
}

/// Adds `listener` to `builder`: each accepted connection (after the TLS handshake,
/// with `tls`) is watched and served over HTTP/1.1, or HTTP/2 when ALPN chose it, by the
/// application `factory` makes on each worker.
pub fn listen<F, I, S, B>(
    builder: ServerBuilder,
    listener: Listener,
    tls: Option<(ServerConfig, Duration)>,
    http: HttpConfig,
    factory: F,
) -> io::Result<ServerBuilder>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let shutdown = builder.graceful_shutdown_signal();
    let timeout = http.header_timeout;
    let service = move || (factory.clone(), http.clone(), shutdown.clone());
    match (listener, tls) {
        (Listener::Tcp(listener), None) => builder.listen("http", listener, move || {
            fn_service(move |io: TcpStream| async move {
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok((
                    Watched::new(io, Protocol::Http1, timeout),
                    Protocol::Http1,
                    peer,
                ))
            })
            .and_then({
                let (factory, http, shutdown) = service();
                http_service(factory, http, shutdown)
            })
        }),
        (Listener::Tcp(listener), Some((mut config, handshake_timeout))) => {
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder.listen("https", listener, move || {
                let mut acceptor = Acceptor::new(config.clone());
                acceptor.set_handshake_timeout(handshake_timeout);
                acceptor
                    .map_init_err(|_| ())
                    .map_err(|_| ())
                    .and_then(move |io: TlsStream<TcpStream>| async move {
                        let (tcp, session) = io.get_ref();
                        let _ = tcp.set_nodelay(true);
                        let peer = tcp.peer_addr().ok();
                        let protocol = match session.alpn_protocol() {
                            Some(b"h2") => Protocol::Http2,
                            _ => Protocol::Http1,
                        };
                        Ok((Watched::new(io, protocol, timeout), protocol, peer))
                    })
                    .and_then({
                        let (factory, http, shutdown) = service();
                        http_service(factory, http, shutdown)
                    })
            })
        }
        (Listener::Unix(listener), _) => builder.listen_uds("http", listener, move || {
            fn_service(move |io: UnixStream| async move {
                Ok((
                    Watched::new(io, Protocol::Http1, timeout),
                    Protocol::Http1,
                    None,
                ))
            })
            .and_then({
                let (factory, http, shutdown) = service();
                http_service(factory, http, shutdown)
            })
        }),
    }
}

/// The HTTP service of one worker over connections of type `T`.
fn http_service<T, F, I, S, B>(
    factory: F,
    http: HttpConfig,
    shutdown: GracefulShutdownSignal,
) -> impl ServiceFactory<
    (T, Protocol, Option<SocketAddr>),
    Config = (),
    Response = (),
    Error = (),
    InitError = (),
>
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
    F: Fn() -> I,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    let app = factory()
        .into_factory()
        .map_err(|err| err.into().error_response());
    HttpService::build()
        .keep_alive(http.keep_alive)
        .client_request_timeout(http.header_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(http.local_addr)
        .graceful_shutdown_signal(move || {
            let shutdown = shutdown.clone();
            async move { shutdown.notified().await }
        })
        .finish(map_config(app, |_| AppConfig::default()))
        .map_err(|_| ())
        .map_init_err(|_| ())
}
