"""Per-route middleware: ``@cors(...)``, ``@rate_limit(...)``, ``@skip_middleware(...)``.

Put them under (or over) the route decorator::

    @api.get("/limited")
    @rate_limit(rps=10, burst=20)
    async def limited(): ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .builtin import CORSMiddleware, RateLimitMiddleware, middleware_kind

F = TypeVar("F", bound=Callable[..., Any])

ATTRIBUTE = "__bolt_middleware__"
SECURITY_HEADERS = "security_headers"


def route_middleware(handler: Any) -> dict[str, Any]:
    """The per-route middleware declared on a handler."""
    found = getattr(handler, ATTRIBUTE, None)
    return found if isinstance(found, dict) else {}


def _mark(handler: F, key: str, value: Any) -> F:
    config = dict(route_middleware(handler))
    if key == "skip":
        config["skip"] = set(config.get("skip", set())) | set(value)
    else:
        config[key] = value
    try:
        setattr(handler, ATTRIBUTE, config)
    except AttributeError:
        raise TypeError(f"cannot attach middleware to {handler!r}") from None
    return handler


def cors(
    origins: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    headers: Iterable[str] | None = None,
    *,
    credentials: bool = False,
    max_age: int | None = 600,
    expose_headers: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """CORS for this route only (replaces the API's CORS middleware here)."""
    policy = CORSMiddleware(
        origins,
        methods,
        headers,
        expose_headers=expose_headers,
        allow_credentials=credentials,
        max_age=max_age,
    )
    return lambda handler: _mark(handler, "cors", policy)


def rate_limit(
    rps: float | None = None,
    burst: float | None = None,
    *,
    key: str = "ip",
    requests: float | None = None,
    window: float = 1.0,
) -> Callable[[F], F]:
    """A token bucket for this route: ``rps`` requests per second with bursts of ``burst``
    (default ``rps``), per ``key`` (``"ip"``, ``"user"``, ``"api_key"``, ``"header:X"``)."""
    limit = RateLimitMiddleware(requests, window, rps=rps, burst=burst, key=key)
    return lambda handler: _mark(handler, "rate_limit", limit)


def skip_middleware(*names: Any) -> Callable[[F], F]:
    """Turns the API's global middleware off for this route:
    ``@skip_middleware("cors", "rate_limit", "compression")`` (or the classes), and
    ``"security_headers"`` for the headers of Django's security middleware."""
    kinds = {SECURITY_HEADERS if n == SECURITY_HEADERS else middleware_kind(n) for n in names}
    if not kinds:
        raise ValueError("skip_middleware needs at least one middleware name")
    return lambda handler: _mark(handler, "skip", kinds)


PYTHON = "python"


def middleware(*items: Any) -> Callable[[F], F]:
    """Python middleware for this route only: ``@middleware(Audit, log_calls)``. Each is
    an async ``(request, call_next)`` callable (see ``django_bolt.middleware.custom``);
    they run inside the API's ``middleware=[...]``, in the order given."""
    from .custom import as_middleware

    if not items:
        raise ValueError("middleware needs at least one middleware")
    found = [as_middleware(item) for item in items]

    def mark(handler: F) -> F:
        earlier = route_middleware(handler).get(PYTHON, [])
        # Decorators apply bottom-up: the one written first (outermost) runs first.
        return _mark(handler, PYTHON, [*found, *earlier])

    return mark
