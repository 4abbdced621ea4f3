"""WebSocket endpoints: ``@api.websocket("/ws/{room}")``.

The handshake is held in Rust until the handler calls ``accept()`` (or ``close()``, which
completes the handshake and closes at once, so the client sees the close code rather than
an HTTP error). Frames are read and written by Rust; the handler awaits messages without
polling and waits for room when the client reads slowly.

    @api.websocket("/ws/echo")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        async for message in websocket.iter_text():
            await websocket.send_text(f"Echo: {message}")
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from . import groups


class WebSocketDisconnect(Exception):
    """The connection closed: ``code`` is the close code (1006 without a close frame)."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __repr__(self) -> str:
        return f"WebSocketDisconnect(code={self.code}, reason={self.reason!r})"


class WebSocketState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class WebSocket:
    """One connection, as a handler sees it.

    Request data (``path_params``, ``query_params``, ``headers``, ``cookies``, ``context``,
    ``user``) comes from the handshake request.
    """

    def __init__(self, request: Any, waiter: Any) -> None:
        self._request = request
        self._job = request._job
        self._channel = self._job.websocket()
        self._wait = waiter  # waiter(id) -> awaitable, resolved when the channel wakes
        self.state = WebSocketState.CONNECTING

    # -- the handshake request ----------------------------------------------------------
    @property
    def path(self) -> str:
        return self._request.path

    @property
    def path_params(self) -> dict[str, str]:
        return self._request.params

    @property
    def query_params(self) -> dict[str, str]:
        return self._request.query

    @property
    def headers(self) -> Any:
        return self._request.headers

    @property
    def cookies(self) -> dict[str, str]:
        return self._request.cookies

    @property
    def context(self) -> dict[str, Any]:
        return self._request.context

    @property
    def user(self) -> Any:
        return self._request.user

    async def auser(self) -> Any:
        return await self._request.auser()

    @property
    def client(self) -> tuple[str, int] | None:
        return self._request.client

    # -- lifecycle ------------------------------------------------------------------------
    async def accept(
        self, subprotocol: str | None = None, headers: list[tuple[str, str]] | None = None
    ) -> None:
        """Completes the handshake (101), optionally choosing a subprotocol the client
        offered and adding response headers."""
        if self.state is not WebSocketState.CONNECTING:
            raise RuntimeError("accept() was already called")
        self._job.ws_accept(subprotocol, headers)
        self.state = WebSocketState.CONNECTED

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Closes with ``code``. Before ``accept()`` the handshake still completes, so the
        client receives this close code (4001 for "unauthorised", say) instead of an HTTP
        error."""
        if self.state is WebSocketState.DISCONNECTED:
            return
        if self.state is WebSocketState.CONNECTING:
            self._job.ws_close(code, reason)
        else:
            while not self._channel.close(code, reason):
                if self._channel.closed:
                    break
                await self._wait(self._channel.id)
        self.state = WebSocketState.DISCONNECTED

    # -- groups ---------------------------------------------------------------------------
    async def group_add(self, group: str) -> None:
        """Joins ``group``: ``api.group_send(group, ...)`` reaches this connection until it
        closes or calls ``group_discard``. Returns once messages to the group arrive (with
        Redis, once this process is subscribed)."""
        self._require_accepted()
        hub = groups.hub()
        channel = self._channel
        await groups.run(lambda done: hub.add(group, channel, done))

    async def group_discard(self, group: str) -> None:
        """Leaves ``group`` (closing the connection leaves every group)."""
        groups.hub().discard(group, self._channel)

    # -- receiving ------------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        """The next message as ``{"type": "websocket.receive", "text": ...}`` (or
        ``"bytes"``); ``{"type": "websocket.disconnect", "code": ...}`` once closed."""
        self._require_accepted()
        channel = self._channel
        while True:
            item = channel.receive()
            if item is not None:
                break
            await self._wait(channel.id)
        kind, data = item
        if kind == "close":
            self.state = WebSocketState.DISCONNECTED
            return {"type": "websocket.disconnect", "code": data[0], "reason": data[1]}
        return {"type": "websocket.receive", kind: data}

    async def _receive_data(self, kind: str) -> Any:
        message = await self.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message["code"], message["reason"])
        if kind not in message:
            other = "bytes" if kind == "text" else "text"
            raise TypeError(f"expected a {kind} message, got {other}")
        return message[kind]

    async def receive_text(self) -> str:
        return await self._receive_data("text")

    async def receive_bytes(self) -> bytes:
        return await self._receive_data("bytes")

    async def receive_json(self, mode: str = "text") -> Any:
        """A JSON message (text frames by default, ``mode="binary"`` for bytes)."""
        data = await self._receive_data("bytes" if mode == "binary" else "text")
        return msgspec.json.decode(data)

    async def iter_text(self) -> AsyncIterator[str]:
        """Text messages until the client closes (then the loop ends quietly)."""
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            return

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            return

    async def iter_json(self) -> AsyncIterator[Any]:
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            return

    # -- sending --------------------------------------------------------------------------
    async def _send(self, kind: str, data: Any) -> None:
        self._require_accepted()
        channel = self._channel
        while True:
            status = channel.send(kind, data)
            if status == 0:
                return
            if status == 2:
                self.state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(1006, "the connection is closed")
            await self._wait(channel.id)  # the client reads slowly: wait for room

    async def send_text(self, data: str) -> None:
        await self._send("text", data)

    async def send_bytes(self, data: bytes) -> None:
        await self._send("bytes", bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        encoded = msgspec.json.encode(data)
        if mode == "binary":
            await self._send("bytes", encoded)
        else:
            await self._send("text", encoded.decode())

    def _require_accepted(self) -> None:
        if self.state is WebSocketState.CONNECTING:
            raise RuntimeError("call accept() before sending or receiving")
