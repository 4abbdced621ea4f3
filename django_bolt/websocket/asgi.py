"""WebSocket connections to paths no ``@api.websocket`` route owns go to the project's
ASGI application (``settings.ASGI_APPLICATION``), so an existing Django Channels
``ProtocolTypeRouter`` and its consumers keep working under ``runbolt``.

The Rust server still does the protocol work (handshake, frames, limits, keep-alive);
the ASGI application sees the standard ``websocket`` scope and messages.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import unquote

from ..http.rendering import INTERNAL_ERROR, JSON_TYPE
from .connection import WebSocket, WebSocketDisconnect, WebSocketState

logger = logging.getLogger("django_bolt")


class ClientDisconnected(OSError):
    """``send()`` after the client went away (the ASGI spec asks for an OSError)."""


def load_application() -> Any:
    """The project's ASGI application when it can take WebSockets, else None (Django's
    own ``ASGIHandler`` answers HTTP only)."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.handlers.asgi import ASGIHandler
    from django.utils.module_loading import import_string

    path = getattr(settings, "ASGI_APPLICATION", None)
    if not path:
        return None
    try:
        application = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"ASGI_APPLICATION {path!r} cannot be loaded: {exc}") from exc
    if isinstance(application, ASGIHandler):
        return None
    return application


def websocket_scope(job: Any) -> dict[str, Any]:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in job.headers()]
    offered = ",".join(v.decode("latin-1") for k, v in headers if k == b"sec-websocket-protocol")
    client = job.client
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": unquote(job.path),
        "raw_path": job.path.encode("latin-1"),
        "query_string": job.query_string.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": list(client) if client else None,
        "server": list(job.server),
        "subprotocols": [p.strip() for p in offered.split(",") if p.strip()],
        "extensions": {"websocket.http.response": {}},
        "state": {},
    }


class ASGIWebSocket:
    """Runs one connection through an ASGI application."""

    def __init__(self, application: Any, job: Any, websocket: WebSocket) -> None:
        self.application = application
        self.job = job
        self.websocket = websocket
        self.connect_sent = False
        self.denial: tuple[int, list[tuple[str, str]]] | None = None
        self.denial_body: list[bytes] = []

    async def run(self) -> None:
        websocket = self.websocket
        try:
            await self.application(websocket_scope(self.job), self.receive, self.send)
        except BaseException as exc:
            if websocket.state is WebSocketState.CONNECTING and not self.job.answered:
                logger.error(
                    "ASGI application failed on WebSocket %s",
                    self.job.path,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
                self.job.respond(500, INTERNAL_ERROR, JSON_TYPE, None)
            elif websocket.state is WebSocketState.CONNECTED:
                if not isinstance(exc, (ClientDisconnected, WebSocketDisconnect)):
                    logger.error(
                        "ASGI application failed on WebSocket %s",
                        self.job.path,
                        exc_info=(type(exc), exc, exc.__traceback__),
                    )
                await websocket.close(1011, "internal error")
            if not isinstance(exc, Exception):
                raise
            return
        if websocket.state is WebSocketState.CONNECTING and not self.job.answered:
            logger.error("ASGI application returned without accepting %s", self.job.path)
            self.job.respond(500, INTERNAL_ERROR, JSON_TYPE, None)
        elif websocket.state is WebSocketState.CONNECTED:
            await websocket.close(1000)

    async def receive(self) -> dict[str, Any]:
        if not self.connect_sent:
            self.connect_sent = True
            return {"type": "websocket.connect"}
        if self.websocket.state is WebSocketState.CONNECTING:
            raise RuntimeError("receive() before the application accepted the connection")
        return await self.websocket.receive()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        websocket = self.websocket
        state = websocket.state
        if kind == "websocket.accept" and state is WebSocketState.CONNECTING:
            headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())
            ]
            await websocket.accept(message.get("subprotocol"), headers or None)
        elif kind == "websocket.send" and state is WebSocketState.CONNECTED:
            try:
                if message.get("bytes") is not None:
                    await websocket.send_bytes(message["bytes"])
                else:
                    await websocket.send_text(message.get("text") or "")
            except WebSocketDisconnect as exc:
                raise ClientDisconnected(f"the client has gone ({exc.code})") from None
        elif kind == "websocket.close":
            if state is WebSocketState.CONNECTING:
                # Before the handshake: refuse it with 403, as the ASGI spec says.
                self.job.respond(403, b'{"detail":"Forbidden"}', JSON_TYPE, None)
                websocket.state = WebSocketState.DISCONNECTED
            else:
                await websocket.close(message.get("code", 1000), message.get("reason") or "")
        elif kind == "websocket.http.response.start" and state is WebSocketState.CONNECTING:
            headers = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", ())
            ]
            self.denial = (int(message["status"]), headers)
        elif kind == "websocket.http.response.body" and self.denial is not None:
            self.denial_body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                status, headers = self.denial
                self.job.respond(status, b"".join(self.denial_body), None, headers)
                websocket.state = WebSocketState.DISCONNECTED
        elif state is WebSocketState.DISCONNECTED:
            raise ClientDisconnected("the connection is closed")
        else:
            raise RuntimeError(f"unexpected ASGI message {kind!r} in state {state.value}")
