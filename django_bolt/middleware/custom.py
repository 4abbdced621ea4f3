"""Python middleware of your own, around an API's routes or one route's handler.

A middleware is an async callable ``(request, call_next)`` that returns a response:

    class Timing:
        async def __call__(self, request, call_next):
            started = time.perf_counter()
            response = await call_next(request)
            response.headers["x-elapsed-ms"] = f"{(time.perf_counter() - started) * 1000:.1f}"
            return response

    api = BoltAPI(middleware=[Timing])         # every route of the API (classes or instances)

    @api.get("/report")
    @middleware(audit)                         # this route only, inside the API's
    async def report(): ...

It runs after the Rust-side gates (CORS, rate limits, authentication and guards): a
request that reaches it is allowed, and ``request.user`` / ``request.context`` are known.
``call_next(request)`` runs the rest of the chain and the handler and returns a
``Response`` (``status_code``, ``headers``, ``content``), also for errors the handler
raised (a 404 from ``NotFound``, a 500 for an unexpected exception): the middleware sees
every answer, as a Django middleware does. A middleware may answer without calling
``call_next`` (return a ``Response`` or anything a handler may return) or raise an
``HTTPException``. Streams and files come back as they are (their body is not read).
Routes with Python middleware run on the full Python path.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from ..http.rendering import Rendered
from ..http.responses import FileResponse, Response, StreamingResponse

Middleware = Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


def is_python_middleware(item: Any) -> bool:
    """True for user middleware (anything callable that is not a built-in kind)."""
    from .builtin import KINDS

    if isinstance(item, str):
        return False
    return getattr(item, "name", None) not in KINDS


def as_middleware(item: Any) -> Middleware:
    """A class (instantiated once, without arguments), an instance with an async
    ``__call__``, or an async function, each taking ``(request, call_next)``."""
    if isinstance(item, type):
        item = item()
    if inspect.isfunction(item) or inspect.ismethod(item):
        target: Any = item
    else:
        target = item.__call__ if callable(item) else None
    if target is None or not inspect.iscoroutinefunction(target):
        raise TypeError(
            f"{item!r} is not a middleware: it must be an async callable "
            "(request, call_next) returning a response"
        )
    try:
        inspect.signature(target).bind(None, None)
    except TypeError:
        raise TypeError(f"{item!r} must take (request, call_next)") from None
    return item


def as_response(rendered: Rendered) -> Response:
    """A rendered answer as the ``Response`` a middleware reads and changes."""
    status, body, content_type, headers = rendered
    response = Response(body, status, media_type=content_type)
    for name, value in headers or ():
        if name.lower() == "set-cookie":
            response._cookies.append(value)
        else:
            response.headers[name] = value
    return response


class MiddlewareChain:
    """The route's middleware, outermost first, around ``inner`` (the handler run to its
    answer, errors included)."""

    __slots__ = ("items",)

    def __init__(self, items: list[Middleware]) -> None:
        self.items = items

    async def run(
        self,
        request: Any,
        handler: Callable[[Any], Awaitable[Any]],
        render: Callable[[Any], Rendered],
        error: Callable[[BaseException, Any], Rendered],
    ) -> Any:
        async def innermost(req: Any) -> Any:
            try:
                result = await handler(req)
            except Exception as exc:
                return as_response(error(exc, req))
            if isinstance(result, (StreamingResponse, FileResponse)):
                return result
            return as_response(render(result))

        call: Callable[[Any], Awaitable[Any]] = innermost
        for item in reversed(self.items):
            call = _link(item, call)
        return await call(request)


def _link(item: Middleware, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    async def step(request: Any) -> Any:
        return await item(request, call_next)

    return step
