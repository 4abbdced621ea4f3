"""A request as a WSGI environ, for Django's request classes and WSGI handler."""

from __future__ import annotations

import io
import sys
from typing import Any
from urllib.parse import unquote_to_bytes

STREAM_BLOCK = 64 * 1024


class FileWrapper:
    """``wsgi.file_wrapper``: reads files in large blocks instead of Django's 4 KB."""

    def __init__(self, filelike: Any, block_size: int = STREAM_BLOCK) -> None:
        self.filelike = filelike
        self.block_size = max(block_size, STREAM_BLOCK)
        self.close = getattr(filelike, "close", lambda: None)

    def __iter__(self) -> Any:
        read = self.filelike.read
        size = self.block_size
        while True:
            data = read(size)
            if not data:
                return
            yield data


class StreamedInput(io.RawIOBase):
    """The raw side of ``wsgi.input`` for a body still arriving: each read takes the
    next chunk the connection forwarded (waiting with the GIL released)."""

    def __init__(self, source: Any) -> None:
        super().__init__()
        self._next_chunk = source.read_chunk
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            chunk = self._next_chunk()
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def request_input(job: Any) -> tuple[Any, int]:
    """``wsgi.input`` and CONTENT_LENGTH: the body in memory, or read from the connection
    as Django asks for it (a large body of known length)."""
    source = job.input()
    if source is None:
        body = job.body
        return io.BytesIO(body), len(body)
    length = int(dict(job.headers()).get("content-length", "0"))
    return io.BufferedReader(StreamedInput(source), STREAM_BLOCK), length


def wsgi_environ(job: Any, *, multiprocess: bool = False) -> dict[str, Any]:
    """The WSGI environ of a job, for Django's request classes."""
    stream, length = request_input(job)
    server_name, server_port = job.server
    client = job.client
    script_name = job.script_name
    environ: dict[str, Any] = {
        "REQUEST_METHOD": job.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": unquote_to_bytes(job.path[len(script_name) :]).decode("latin-1"),
        "QUERY_STRING": job.query_string,
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": client[0] if client else "",
        "REMOTE_PORT": str(client[1]) if client else "",
        "CONTENT_LENGTH": str(length),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": job.scheme,
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
    }
    for name, value in job.headers():
        if "_" in name:
            # Underscored names would collide with dashed ones once mapped to
            # HTTP_*; like other WSGI servers, drop them rather than allow spoofing.
            continue
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
            continue
        if name == "content-length":
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in environ:
            sep = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = f"{environ[key]}{sep}{value}"
        else:
            environ[key] = value
    return environ
