"""``cache_page``: a GET route's answers kept for ``timeout`` seconds.

Two levels. Each process keeps answers in Rust memory and serves them again without
Python (``Age`` says how old they are); on a miss, Python looks in Django's cache
(``CACHES[cache]``, shared by every process when the backend is Redis, Memcached, the
database or files) and only then runs the handler, storing what it answers in both.

Kept: answers to GET (HEAD is served from them) with status 200, not streamed, setting no
cookie (``cookies=True`` allows it), from a handler that did not use the session, whose
``Cache-Control`` does not say ``private``, ``no-store`` or ``no-cache``. The key is the
host, the path with its query and the values of the request headers the answer's ``Vary``
names.
Authenticated requests bypass the cache unless ``per_user=True``, which keeps answers per
credential (a token's user, an API key's name, a session's user). A ``Cache-Control:
max-age`` is added when the answer has none, as Django's ``cache_page`` does.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..http.responses import FileResponse, Response, StreamingResponse
from .custom import as_response

#: The header by which Python tells Rust to keep an answer (seconds); never sent.
MARKER = "x-bolt-cache-ttl"
ATTRIBUTE = "__bolt_cache__"
_RUST_BACKENDS = ("jwt", "api_key")
_UNCACHEABLE = ("private", "no-store", "no-cache")


class CachePage:
    """The Python half of ``cache_page`` (the Rust half serves hits without Python)."""

    def __init__(
        self,
        timeout: float,
        *,
        per_user: bool = False,
        cache: str = "default",
        key_prefix: str = "",
        cookies: bool = False,
    ) -> None:
        if not (isinstance(timeout, (int, float)) and timeout > 0):
            raise ValueError(f"cache_page needs a positive timeout in seconds (got {timeout!r})")
        self.timeout = float(timeout)
        self.per_user = per_user
        self.cache = cache
        self.key_prefix = key_prefix
        self.cookies = cookies

    def validate(self) -> None:
        from django.conf import settings

        if self.cache not in settings.CACHES:
            raise ValueError(f"cache_page: no cache {self.cache!r} in settings.CACHES")

    def _owner(self, request: Any) -> tuple[bool, str, bool]:
        """(cacheable, whose answers, whether Rust may keep them too)."""
        context = request.context or {}
        backend = context.get("auth_backend")
        if backend is None:
            if "authorization" in request.headers:
                return False, "", False
            return True, "", True
        if not self.per_user:
            return False, "", False
        who = context.get("user_id") or context.get("api_key_name") or ""
        return bool(who), f"{backend}:{who}", backend in _RUST_BACKENDS

    def _base(self, request: Any, owner: str) -> str:
        query = request.query_string
        target = f"{request.path}?{query}" if query else request.path
        host = request.headers.get("host", "")
        key = f"{self.key_prefix}\n{host}\n{target}\n{owner}"
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"bolt.cache:{digest}"

    @staticmethod
    def _variant(base: str, vary: list[str], request: Any) -> str:
        values = "\n".join(request.headers.get(name, "") for name in vary)
        return f"{base}:{hashlib.sha256(values.encode()).hexdigest()}"

    async def __call__(self, request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        method = request.method
        cacheable, owner, rust = self._owner(request)
        if method not in ("GET", "HEAD") or not cacheable:
            return await call_next(request)
        from django.core.cache import caches

        store = caches[self.cache]
        base = self._base(request, owner)
        vary = await store.aget(f"{base}:vary")
        if vary is not None:
            kept = await store.aget(self._variant(base, vary, request))
            if kept is not None and kept[4] > time.time():
                return _replay(kept, rust)
        response = await call_next(request)
        if method != "GET" or not self._keeps(request, response):
            return response
        if getattr(request, "_django_request", None) is not None:
            return response  # the handler used Django's request (its session, its user)
        names = _vary(response)
        if names is None:
            return response
        if not any(k.lower() == "cache-control" for k in response.headers):
            # Per-user answers are for their user only: shared caches must not keep them.
            scope = "private, " if owner else ""
            response.headers["cache-control"] = f"{scope}max-age={int(self.timeout)}"
        headers = [(k, v) for k, v in response.header_list() if k.lower() != MARKER]
        # The rendered answer (status, body, content type, headers) and when it expires.
        kept = (
            response.status_code,
            response.render(),
            response.media_type,
            headers,
            time.time() + self.timeout,
        )
        # Longer than the answers, so a variant is never orphaned by its Vary list.
        await store.aset(f"{base}:vary", names, self.timeout * 2)
        await store.aset(self._variant(base, names, request), kept, self.timeout)
        if rust:
            response.headers[MARKER] = f"{self.timeout:.3f}"
        return response

    def _keeps(self, request: Any, response: Any) -> bool:
        if not isinstance(response, Response) or isinstance(
            response, (StreamingResponse, FileResponse)
        ):
            return False
        if response.status_code != 200 or request.loaded_session is not None:
            return False
        if not self.cookies and (
            response._cookies or any(k.lower() == "set-cookie" for k in response.headers)
        ):
            return False
        control = next(
            (str(v).lower() for k, v in response.headers.items() if k.lower() == "cache-control"),
            "",
        )
        return not any(word in control for word in _UNCACHEABLE)


def _vary(response: Response) -> list[str] | None:
    """The request headers an answer varies on (lower case, sorted); None for ``*``."""
    names: set[str] = set()
    for key, value in response.headers.items():
        if key.lower() != "vary":
            continue
        for item in str(value).split(","):
            item = item.strip().lower()
            if item == "*":
                return None
            if item:
                names.add(item)
    return sorted(names)


def _replay(kept: tuple[Any, ...], rust: bool) -> Response:
    *rendered, expires = kept
    response = as_response(tuple(rendered))  # type: ignore[arg-type]
    left = expires - time.time()
    if rust and left > 0:
        response.headers[MARKER] = f"{left:.3f}"
    return response


def cache_page(
    timeout: float,
    *,
    per_user: bool = False,
    cache: str = "default",
    key_prefix: str = "",
    cookies: bool = False,
) -> Callable[[Any], Any]:
    """Keeps a GET route's answers for ``timeout`` seconds (see the module's text).
    ``cache`` names the Django cache shared by the processes; ``key_prefix`` separates
    sites sharing one cache."""
    page = CachePage(
        timeout, per_user=per_user, cache=cache, key_prefix=key_prefix, cookies=cookies
    )

    def mark(handler: Any) -> Any:
        try:
            setattr(handler, ATTRIBUTE, page)
        except AttributeError:
            raise TypeError(f"cannot cache {handler!r}") from None
        return handler

    return mark


def cache_of(handler: Any) -> CachePage | None:
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, CachePage) else None
