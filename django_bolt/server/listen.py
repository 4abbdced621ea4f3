"""The listening socket runbolt serves: opened once, before any worker process starts,
so every worker accepts from the same queue. A worker that stops accepting (recycled,
restarted) leaves nothing behind, and a second server on the same address is refused
instead of splitting the traffic with the first."""

from __future__ import annotations

import errno
import socket


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
