"""In-process test clients: httpx clients whose requests run through the real Rust
router and bridge, without a socket.

    from django_bolt.testing import TestClient

    with TestClient(api) as client:
        assert client.get("/hello").json() == {"message": "hi"}
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx

from .._core import Server, TestApp
from ..conf import load_config
from ..contrib.static.serving import static_mounts
from ..routing.router import Router
from ..server.django_app import DjangoApplication
from ..server.runner import Dispatcher
from ..server.site import Site, compile_site
from .database import REQUESTS, SharedConnections, in_test_transaction
from .websocket import WebSocketSession


class _Runtime:
    """The Python side of the bridge on a background event loop thread."""

    def __init__(
        self,
        site: Site,
        *,
        django_fallback: bool,
        max_body_size: int | None,
        threads: int,
        client_address: str = "127.0.0.1:50000",
        share_connections: bool = False,
    ) -> None:
        self.client_address = client_address
        #: What ``force_authenticate`` set: the identity every request carries, or None.
        self.forced: dict[str, Any] | None = None
        self.shared = SharedConnections() if share_connections else None
        # The limits runbolt would apply (BOLT settings), with the test's own body limit.
        config = load_config(max_body_size=max_body_size)
        statics = static_mounts()  # before any thread starts: settings errors raise cleanly
        self.loop = asyncio.new_event_loop()
        self.dispatcher = Dispatcher(
            site.plans,
            threads=threads,
            django_app=DjangoApplication() if django_fallback else None,
            timeout=config.timeout,
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
        self.site, self.settings, self.statics = site, config.server_settings(), statics
        self.app = TestApp(
            site.table,
            self.dispatcher.bridge,
            self.settings,
            static_files=statics,
        )
        self._server: Any = None
        self._listener: Any = None
        # Last: handlers look their connection up per request, so nothing is missed, and
        # a client that failed to start leaves the test's connections as they were.
        if self.shared is not None:
            self.shared.start()

    def request(self, method: str, uri: str, headers: Any, body: bytes) -> Any:
        """One request through the in-process app (one at a time while sharing the test's
        database connection)."""
        if self.shared is None:
            return self.app.request(method, uri, headers, body, self.client_address, self.forced)
        with REQUESTS:
            return self.app.request(method, uri, headers, body, self.client_address, self.forced)

    def websocket_port(self) -> int:
        """The loopback port of the real server WebSockets are tested against, started on
        first use (same routes, same Python dispatcher as the in-process app)."""
        if self._server is None:
            import socket

            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(("127.0.0.1", 0))
            listener.listen(128)
            self._listener = listener
            self._server = Server(
                self.site.table,
                self.dispatcher.bridge,
                self.settings,
                static_files=self.statics,
                fd=listener.fileno(),
            )
        return int(self._server.port)

    def close(self) -> None:
        if self.loop.is_closed():
            return

        async def shutdown() -> None:
            self.dispatcher.close(timeout=1.0)
            # What requests left behind (closing connections, say) ends before the loop.
            current = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not current]
            if pending:
                await asyncio.wait(pending, timeout=2.0)
            self.loop.stop()

        try:
            if self._server is not None:
                self._server.stop(graceful=False)
                self._server.wait()
                self._listener.close()
                self._server = None
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
            self.thread.join(10)
            self.loop.close()
        finally:
            if self.shared is not None:
                self.shared.stop()


class _Transport(httpx.BaseTransport):
    def __init__(self, runtime: _Runtime) -> None:
        self.runtime = runtime

    def close(self) -> None:  # also what ``with TestClient(...)`` ends with
        self.runtime.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        uri = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v) for k, v in request.headers.raw]
        try:
            status, resp_headers, content = self.runtime.request(request.method, uri, headers, body)
        except ConnectionError as exc:  # as a client on a socket sees it
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        return httpx.Response(status, headers=resp_headers, content=content, request=request)


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, runtime: _Runtime) -> None:
        self.runtime = runtime

    async def aclose(self) -> None:
        self.runtime.close()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        uri = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v) for k, v in request.headers.raw]
        try:
            status, resp_headers, content = await asyncio.to_thread(
                self.runtime.request, request.method, uri, headers, body
            )
        except ConnectionError as exc:  # as a client on a socket sees it
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
        return httpx.Response(status, headers=resp_headers, content=content, request=request)


def _site_for(api: Router | Site | None, debug: bool | None) -> Site:
    if isinstance(api, Site):
        if debug is not None:
            raise TypeError("debug= applies to a site the client compiles; use Site(..., debug=)")
        return api
    if api is None:
        return compile_site(debug=debug)
    return Site([("", api)], debug=debug)


class TestClient(httpx.Client):
    """An ``httpx.Client`` whose requests run through the real Rust router and bridge.

    ``TestClient(api)`` serves one API at the root; ``TestClient()`` serves the project's
    whole URLconf as runbolt would. Paths no route owns go to Django. Options: ``debug``
    (default ``settings.DEBUG``), ``django_fallback`` (False: 404 for paths no route
    owns), ``max_body_size``, ``threads``, ``share_connections`` (default: when created
    inside a test's transaction, as in Django's ``TestCase`` or pytest-django's ``db``
    fixture, handlers use the test's database connection and see its data); other
    keywords go to ``httpx.Client``.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        api: Router | Site | None = None,
        *,
        base_url: str = "http://testserver",
        **options: Any,
    ) -> None:
        self._runtime, client_kwargs = _runtime_for(api, options)
        super().__init__(transport=_Transport(self._runtime), base_url=base_url, **client_kwargs)

    def websocket_connect(
        self,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        subprotocols: list[str] | None = None,
        timeout: float = 10.0,
    ) -> WebSocketSession:
        """A WebSocket connection to ``path``, for ``with ... as ws:``; ``ws.send_text``,
        ``send_bytes``, ``send_json``, ``receive_text``, ``receive_bytes``,
        ``receive_json``, ``close(code)``. A handshake the route refuses raises
        ``WebSocketRejected`` (``status_code``, ``json()``). Authenticate with
        ``headers`` (``force_authenticate`` applies to HTTP requests only)."""
        return WebSocketSession(
            "127.0.0.1",
            self._runtime.websocket_port(),
            path,
            headers=headers,
            subprotocols=subprotocols,
            timeout=timeout,
        )

    def force_authenticate(self, user: Any = None) -> None:
        """Every following request is authenticated as ``user`` (``None``: no longer):
        the route's authentication is skipped, ``request.user`` / ``await
        request.auser()`` is that user, and guards decide from Django's permission tables
        and groups for them (as for a token that carries no permission claims)."""
        self._runtime.forced = forced_identity(user)

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
        api: Router | Site | None = None,
        *,
        base_url: str = "http://testserver",
        **options: Any,
    ) -> None:
        self._runtime, client_kwargs = _runtime_for(api, options)
        super().__init__(
            transport=_AsyncTransport(self._runtime), base_url=base_url, **client_kwargs
        )

    def force_authenticate(self, user: Any = None) -> None:
        """See ``TestClient.force_authenticate``."""
        self._runtime.forced = forced_identity(user)

    async def aclose(self) -> None:
        await super().aclose()
        self._runtime.close()


def forced_identity(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    pk = getattr(user, "pk", None)
    if pk is None or not getattr(user, "is_authenticated", False):
        raise ValueError(f"force_authenticate needs a saved user, not {user!r}")
    username = user.get_username() if hasattr(user, "get_username") else str(pk)
    return {
        "user_id": str(pk),
        "username": username,
        "is_staff": bool(getattr(user, "is_staff", False)),
        "is_superuser": bool(getattr(user, "is_superuser", False)),
    }


def _runtime_for(
    api: Router | Site | None, options: dict[str, Any]
) -> tuple[_Runtime, dict[str, Any]]:
    debug = options.pop("debug", None)
    share = options.pop("share_connections", None)
    if share is None:
        share = in_test_transaction()
    runtime = _Runtime(
        _site_for(api, debug),
        django_fallback=options.pop("django_fallback", True),
        max_body_size=options.pop("max_body_size", None),
        threads=options.pop("threads", 2),
        client_address=options.pop("client_address", "127.0.0.1:50000"),
        share_connections=share,
    )
    return runtime, options
