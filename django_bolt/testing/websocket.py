"""``client.websocket_connect(path)``: a WebSocket route tested in-process.

The test client starts the real Rust server on a loopback port of its own (in the test's
process, sharing the client's Python dispatcher, so handlers see what HTTP handlers see)
and talks to it with the small RFC 6455 client below:

    with client.websocket_connect("/ws/echo") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "echo: hi"
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
from typing import Any

from ..websocket.connection import WebSocketDisconnect

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


class WebSocketRejected(WebSocketDisconnect):
    """The server answered the handshake with HTTP instead of switching protocols."""

    def __init__(self, status_code: int, headers: dict[str, str], body: bytes) -> None:
        super().__init__(1006, f"handshake refused with {status_code}")
        self.status_code = status_code
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)


class WebSocketSession:
    """One client connection. ``receive_*`` raise ``WebSocketDisconnect`` (with the
    server's close code) once the server has closed."""

    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._buffer = b""
        self.close_code: int | None = None
        self.close_reason = ""
        self.accepted_subprotocol: str | None = None
        try:
            self._handshake(path, headers or {}, subprotocols or [])
        except BaseException:
            self.sock.close()
            raise

    # -- the opening handshake ---------------------------------------------------------
    def _handshake(self, path: str, headers: dict[str, str], subprotocols: list[str]) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            "Host: testserver",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if subprotocols:
            lines.append(f"Sec-WebSocket-Protocol: {', '.join(subprotocols)}")
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = self._read_until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        answer = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        if status != 101:
            length = int(answer.get("content-length", "0") or 0)
            raise WebSocketRejected(status, answer, self._read_exactly(length))
        expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        if answer.get("sec-websocket-accept") != expected:
            raise ConnectionError("the server answered with a wrong Sec-WebSocket-Accept")
        self.accepted_subprotocol = answer.get("sec-websocket-protocol")

    # -- reading ------------------------------------------------------------------------
    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise WebSocketDisconnect(self.close_code or 1006, "connection lost")
        self._buffer += chunk

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            self._fill()
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _frame(self) -> tuple[bool, int, bytes]:
        first, second = self._read_exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read_exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read_exactly(8))
        mask = self._read_exactly(4) if second & 0x80 else b""
        payload = self._read_exactly(length)
        if mask:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def receive(self) -> str | bytes:
        """The next message (str for text, bytes for binary); pings are answered."""
        if self.close_code is not None:
            raise WebSocketDisconnect(self.close_code, self.close_reason)
        parts: list[bytes] = []
        kind = None
        while True:
            fin, opcode, payload = self._frame()
            if opcode == PING:
                self._send_frame(PONG, payload)
                continue
            if opcode == PONG:
                continue
            if opcode == CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.close_code, self.close_reason = code, payload[2:].decode("utf-8", "replace")
                try:
                    self._send_frame(CLOSE, payload[:2])
                except OSError:
                    pass
                raise WebSocketDisconnect(code, self.close_reason)
            if opcode != CONTINUATION:
                kind = opcode
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode("utf-8") if kind == TEXT else data

    def receive_text(self) -> str:
        message = self.receive()
        if not isinstance(message, str):
            raise TypeError(f"expected a text message, got {len(message)} bytes")
        return message

    def receive_bytes(self) -> bytes:
        message = self.receive()
        if not isinstance(message, bytes):
            raise TypeError(f"expected a binary message, got text {message[:80]!r}")
        return message

    def receive_json(self) -> Any:
        return json.loads(self.receive())

    # -- writing ------------------------------------------------------------------------
    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", n)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", n)
        mask = os.urandom(4)
        header += mask
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + masked)

    def send_text(self, text: str) -> None:
        self._send_frame(TEXT, text.encode("utf-8"))

    def send_bytes(self, data: bytes) -> None:
        self._send_frame(BINARY, bytes(data))

    def send_json(self, value: Any) -> None:
        self.send_text(json.dumps(value))

    def ping(self, data: bytes = b"") -> None:
        self._send_frame(PING, data)

    # -- closing ------------------------------------------------------------------------
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Sends a close frame (unless the server closed first) and waits briefly for the
        server's, then closes the socket."""
        try:
            if self.close_code is None:
                self._send_frame(CLOSE, struct.pack("!H", code) + reason.encode())
                self.sock.settimeout(2.0)
                while self.close_code is None:
                    try:
                        self.receive()
                    except WebSocketDisconnect:
                        break
        except OSError:
            pass
        finally:
            self.sock.close()

    def __enter__(self) -> WebSocketSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
