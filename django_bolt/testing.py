"""Testing: in-process clients that run the real Rust pipeline without a socket, and a
helper that runs a real ``runbolt`` subprocess on a free port.

    from django_bolt.testing import TestClient

    with TestClient(api) as client:
        assert client.get("/hello").json() == {"message": "hi"}
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx

from ._bridge import Dispatcher
from ._core import TestApp
from .api import BoltAPI
from .site import Site


class _Runtime:
    """The Python side of the bridge on a background event loop thread."""

    def __init__(
        self,
        site: Site,
        *,
        debug: bool | None,
        django_fallback: bool,
        max_body_size: int | None,
        threads: int,
        client_address: str = "127.0.0.1:50000",
    ) -> None:
        self.client_address = client_address
        from django.conf import settings

        from .config import DEFAULT_MAX_BODY
        from .fallback import DjangoFallback

        self.loop = asyncio.new_event_loop()
        self.dispatcher = Dispatcher(
            site.plans,
            site.apis,
            debug=settings.DEBUG if debug is None else debug,
            threads=threads,
            fallback=DjangoFallback() if django_fallback else None,
        )
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.dispatcher.start(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="bolt-test-loop", daemon=True)
        self.thread.start()
        started.wait(10)
        limit = max_body_size or getattr(settings, "BOLT_MAX_UPLOAD_SIZE", None) or DEFAULT_MAX_BODY
        spool = getattr(settings, "BOLT_MEMORY_SPOOL_THRESHOLD", None)
        self.app = TestApp(
            site.table,
            self.dispatcher.bridge,
            int(limit),
            spool_threshold=int(spool if spool is not None else 1024 * 1024),
        )

    def close(self) -> None:
        if self.loop.is_closed():
            return

        def shutdown() -> None:
            self.dispatcher.close(timeout=1.0)
            self.loop.stop()

        self.loop.call_soon_threadsafe(shutdown)
        self.thread.join(10)
        self.loop.close()


class _Transport(httpx.BaseTransport):
    def __init__(self, runtime: _Runtime) -> None:
        self.runtime = runtime

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        uri = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v) for k, v in request.headers.raw]
        status, resp_headers, content = self.runtime.app.request(
            request.method, uri, headers, body, self.runtime.client_address
        )
        return httpx.Response(status, headers=resp_headers, content=content, request=request)


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, runtime: _Runtime) -> None:
        self.runtime = runtime

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        uri = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v) for k, v in request.headers.raw]
        status, resp_headers, content = await asyncio.to_thread(
            self.runtime.app.request,
            request.method,
            uri,
            headers,
            body,
            self.runtime.client_address,
        )
        return httpx.Response(status, headers=resp_headers, content=content, request=request)


def _site_for(api: BoltAPI | Site | None) -> Site:
    if isinstance(api, Site):
        return api
    if api is None:
        from .site import compile_site

        return compile_site()
    return Site([("", api)])


class TestClient(httpx.Client):
    """An ``httpx.Client`` whose requests run through the real Rust router and bridge.

    ``TestClient(api)`` serves one API at the root; ``TestClient()`` serves the project's
    whole URLconf as runbolt would. Paths no route owns go to Django. Options: ``debug``
    (default ``settings.DEBUG``), ``django_fallback`` (False: 404 for paths no route
    owns), ``max_body_size``, ``threads``; other keywords go to ``httpx.Client``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        api: BoltAPI | Site | None = None,
        *,
        base_url: str = "http://testserver",
        **options: Any,
    ) -> None:
        self._runtime, client_kwargs = _runtime_for(api, options)
        super().__init__(transport=_Transport(self._runtime), base_url=base_url, **client_kwargs)

    @property
    def handed_over(self) -> int:
        """How many requests Rust has handed to Python (rejections in Rust do not count)."""
        return int(self._runtime.dispatcher.bridge.handed_over)

    def close(self) -> None:
        super().close()
        self._runtime.close()


class AsyncTestClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` twin of :class:`TestClient`, for async tests."""

    __test__ = False

    def __init__(
        self,
        api: BoltAPI | Site | None = None,
        *,
        base_url: str = "http://testserver",
        **options: Any,
    ) -> None:
        self._runtime, client_kwargs = _runtime_for(api, options)
        super().__init__(
            transport=_AsyncTransport(self._runtime), base_url=base_url, **client_kwargs
        )

    async def aclose(self) -> None:
        await super().aclose()
        self._runtime.close()


def _runtime_for(
    api: BoltAPI | Site | None, options: dict[str, Any]
) -> tuple[_Runtime, dict[str, Any]]:
    runtime = _Runtime(
        _site_for(api),
        debug=options.pop("debug", None),
        django_fallback=options.pop("django_fallback", True),
        max_body_size=options.pop("max_body_size", None),
        threads=options.pop("threads", 2),
        client_address=options.pop("client_address", "127.0.0.1:50000"),
    )
    return runtime, options


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class BoltProcess:
    """A running ``manage.py runbolt`` subprocess."""

    def __init__(self, proc: subprocess.Popen[str], host: str, port: int) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise RuntimeError(f"runbolt exited with {self.proc.returncode}:\n{self.log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"runbolt did not listen on {self.port} within {timeout}s:\n{self.log}")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)
        if self.proc.stdout is not None and not self._reader.is_alive():
            self.proc.stdout.close()
        return self.proc.returncode


@contextlib.contextmanager
def run_bolt(
    *args: str,
    manage_py: str | None = None,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    cwd: str | None = None,
    timeout: float = 30.0,
) -> Iterator[BoltProcess]:
    """Starts ``manage.py runbolt`` on a free port, waits until it listens, and stops it
    with SIGTERM on exit."""
    port = port or free_port(host)
    manage_py = manage_py or os.environ.get("BOLT_MANAGE_PY") or "manage.py"
    cmd = [sys.executable, "-u", manage_py, "runbolt", "--host", host, "--port", str(port), *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = BoltProcess(proc, host, port)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()
