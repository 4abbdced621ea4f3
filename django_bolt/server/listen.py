"""The listening socket runbolt serves (TCP, a Unix socket with ``--uds``, or one a
parent passed: ``--fd``, systemd socket activation): opened once, before any worker
process starts, so every worker accepts from the same queue. A worker that stops
accepting (recycled, restarted) leaves nothing behind, and a second server on the same
address is refused instead of splitting the traffic with the first."""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
import stat

from .._core import Metrics
from ..conf import ServerConfig


class ListenError(OSError):
    """The address cannot be served (one line, naming it)."""


def open_listener(host: str, port: int, backlog: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # Restarts can bind while old connections linger in TIME_WAIT; no SO_REUSEPORT,
        # so a port another process serves stays its own.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"cannot listen on {host}:{port}: the address is already in use "
                "(is another server running there?)"
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def listener_from_fd(fd: int) -> socket.socket:
    """A listening socket a parent process opened (``--fd N``, systemd socket
    activation): TCP or Unix."""
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ListenError(f"cannot serve file descriptor {fd}: {exc.strerror or exc}") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
        socket.SOL_SOCKET, socket.SO_ACCEPTCONN
    ):
        sock.detach()
        raise ListenError(f"file descriptor {fd} is not a listening stream socket")
    return sock


SD_LISTEN_FDS_START = 3


def activated_fd() -> int | None:
    """The socket systemd passed (``LISTEN_FDS``, for this process), if any."""
    if os.environ.get("LISTEN_PID") != str(os.getpid()):
        return None
    count = int(os.environ.get("LISTEN_FDS", "0") or 0)
    return SD_LISTEN_FDS_START if count >= 1 else None


def open_unix_listener(path: str, backlog: int, mode: int = 0o660) -> socket.socket:
    """A Unix socket at ``path`` (a stale socket file from an earlier run is replaced)."""
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ListenError(f"cannot listen on {path}: it exists and is not a socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                served = False
            else:
                served = True
        if served:
            raise ListenError(f"cannot listen on {path}: another server is serving it")
        os.unlink(path)  # a stale socket file: nobody serves it
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise ListenError(f"cannot listen on {path}: {exc.strerror or exc}") from None
    return sock


def sd_notify(state: str) -> None:
    """Tells systemd (``Type=notify``) how the service is: ``READY=1``, ``STOPPING=1``."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(state.encode(), address)
        except OSError:
            pass


def watchdog_interval() -> float | None:
    """How often to tell systemd ``WATCHDOG=1`` (half its ``WatchdogSec``), when it asks
    this process (``WATCHDOG_USEC``, and ``WATCHDOG_PID`` naming it, if set)."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return max(int(usec), 1) / 2e6
    except ValueError:
        return None


def open_configured(config: ServerConfig) -> socket.socket:
    """The socket runbolt's settings ask for: ``--fd``, else one systemd passed, else
    ``--uds``, else ``host:port``."""
    fd = config.fd if config.fd is not None else activated_fd()
    if fd is not None:
        return listener_from_fd(fd)
    if config.uds:
        return open_unix_listener(config.uds, config.backlog, config.uds_mode)
    return open_listener(config.host, config.port, config.backlog)


def describe(sock: socket.socket, *, tls: bool = False, root_path: str = "") -> str:
    """Where a listening socket is, for banners: its URL, or the Unix path."""
    if sock.family == socket.AF_UNIX:
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    scheme = "https" if tls else "http"
    where = f"[{host}]" if ":" in host else host
    return f"{scheme}://{where}:{port}{root_path}/"


@dataclasses.dataclass
class Sockets:
    """What every worker of one runbolt shares, opened once before any starts: the
    listening socket and, with ``--metrics-port``, the metrics region and its listener.
    A worker in a fresh interpreter (a reload) or a process restarting in place gets
    them as inherited descriptors."""

    listener: socket.socket
    metrics: Metrics | None = None
    metrics_listener: socket.socket | None = None

    @classmethod
    def open(cls, config: ServerConfig) -> Sockets:
        listener = open_configured(config)
        if config.metrics_port is None:
            return cls(listener)
        try:
            metrics_listener = open_listener(config.metrics_host, config.metrics_port, 64)
        except OSError:
            listener.close()
            raise
        return cls(listener, Metrics(), metrics_listener)

    def fds(self) -> list[int]:
        """The descriptors a fresh interpreter inherits."""
        fds = [self.listener.fileno()]
        if self.metrics is not None and self.metrics_listener is not None:
            fds += [self.metrics.fd, self.metrics_listener.fileno()]
        return fds

    def encode(self) -> str:
        return ",".join(map(str, self.fds()))

    @classmethod
    def decode(cls, text: str) -> Sockets:
        fds = [int(part) for part in text.split(",")]
        listener = listener_from_fd(fds[0])
        if len(fds) < 3:
            return cls(listener)
        return cls(listener, Metrics.attach(fds[1]), listener_from_fd(fds[2]))
