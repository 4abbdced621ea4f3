"""The Router: routes declared with decorators, each compiled into a RoutePlan at once.
``BoltAPI`` is a Router with its OpenAPI document, docs pages and URLconf mount."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from .paths import HTTP_METHODS, WEBSOCKET, join_paths
from .plan import RoutePlan


class Route:
    """One handler bound to a path and one or more methods."""

    __slots__ = ("methods", "path", "handler", "plan", "name", "router", "options", "_compiled")

    def __init__(
        self,
        router: Router,
        methods: list[str],
        path: str,
        handler: Callable[..., Any],
        plan: RoutePlan,
        name: str,
        options: dict[str, Any],
    ) -> None:
        self.router = router
        self.methods = methods
        self.path = path
        self.handler = handler
        self.plan = plan
        self.name = name
        self.options = options
        self._compiled: Any = None

    @property
    def api(self) -> Router:
        """The Router (BoltAPI) the route belongs to."""
        return self.router

    def __repr__(self) -> str:
        return f"<Route {','.join(self.methods)} {self.path} -> {self.name}>"


class Router:
    """A set of typed routes.

    ``prefix`` is prepended to every route path (inside the mount point).
    ``exception_handler(exc, request)`` may turn exceptions into a handler-style result.
    ``auth`` and ``guards`` are the defaults for every route (a route's own replace them);
    ``middleware`` (CORSMiddleware, RateLimitMiddleware, CompressionMiddleware instances)
    or the equivalent ``middleware_config={"cors": {...}, ...}`` apply to every route.
    ``django_middleware=True`` (the project's MIDDLEWARE) or a list of middleware runs
    Django middleware around every route. ``security_headers=False`` leaves out the
    headers of Django's security middleware that runbolt otherwise adds to API answers.
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        exception_handler: Callable[[Exception, Any], Any] | None = None,
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        middleware: list[Any] | None = None,
        middleware_config: dict[str, Any] | None = None,
        django_middleware: bool | list[Any] | None = None,
        security_headers: bool = True,
    ) -> None:
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.prefix = prefix.rstrip("/")
        self.exception_handler = exception_handler
        self.auth = list(auth) if auth is not None else None
        self.guards = list(guards) if guards is not None else None
        self.middleware = list(middleware or [])
        self.middleware_config = dict(middleware_config or {})
        self.django_middleware = django_middleware
        self.security_headers = security_headers
        self.routes: list[Route] = []
        #: Other APIs served at the same place whose routes this API's OpenAPI document
        #: also covers (set by the site that serves them together).
        self.docs_with: list[Router] = []

    # -- declaring routes --------------------------------------------------------------
    def api_route(
        self,
        path: str,
        methods: Iterable[str] = ("GET",),
        *,
        response_model: Any = None,
        status_code: int = 200,
        name: str | None = None,
        summary: str | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        include_in_schema: bool = True,
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        responses: dict[int, Any] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers a handler. ``auth`` / ``guards`` replace the API's defaults for this
        route (``auth=[]`` turns authentication off). ``responses`` documents other
        answers in the OpenAPI document: ``{404: "No such item"}``, ``{409: ErrorType}``
        or a raw OpenAPI response object."""
        if isinstance(methods, str):
            methods = [methods]
        normalized = []
        for method in methods:
            method = method.upper()
            if method not in HTTP_METHODS:
                raise ValueError(f"unsupported HTTP method {method!r} for route {path!r}")
            if method not in normalized:
                normalized.append(method)
        if not path.startswith("/"):
            path = "/" + path
        full_path = join_paths(self.prefix, path) if self.prefix else path

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            plan = RoutePlan(
                handler,
                full_path,
                response_model=response_model,
                status_code=status_code,
                name=_qualname(handler),
            )
            for existing in self.routes:
                clash = set(existing.methods) & set(normalized)
                if existing.path == full_path and clash:
                    raise ValueError(
                        f"route {sorted(clash)} {full_path} is already handled by {existing.name}"
                    )
            self.routes.append(
                Route(
                    self,
                    normalized,
                    full_path,
                    handler,
                    plan,
                    name or _qualname(handler),
                    {
                        "summary": summary,
                        "description": description,
                        "tags": tags,
                        "include_in_schema": include_in_schema,
                        "auth": list(auth) if auth is not None else None,
                        "guards": list(guards) if guards is not None else None,
                        "responses": dict(responses or {}),
                    },
                )
            )
            return handler

        return decorator

    route = api_route

    def get(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["GET"], **options)

    def post(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["POST"], **options)

    def put(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["PUT"], **options)

    def patch(
        self, path: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["PATCH"], **options)

    def delete(
        self, path: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["DELETE"], **options)

    def head(self, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["HEAD"], **options)

    def options(
        self, path: str, **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.api_route(path, ["OPTIONS"], **options)

    def websocket(
        self,
        path: str,
        *,
        name: str | None = None,
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        allowed_origins: list[str] | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers an async WebSocket handler taking a ``WebSocket`` (plus path and
        query parameters). ``auth`` / ``guards`` are checked at the handshake, and so is
        the browser's ``Origin``: ``allowed_origins`` (else ``BOLT["WS_ALLOWED_ORIGINS"]``,
        else the hosts of ``ALLOWED_HOSTS``)."""
        if not path.startswith("/"):
            path = "/" + path
        full_path = join_paths(self.prefix, path) if self.prefix else path

        def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"WebSocket handler {_qualname(handler)} must be async")
            plan = RoutePlan(handler, full_path, name=_qualname(handler))
            plan.fast_args = None  # never the HTTP fast path
            for existing in self.routes:
                if existing.path == full_path and WEBSOCKET in existing.methods:
                    raise ValueError(f"WebSocket route {full_path} is already handled")
            self.routes.append(
                Route(
                    self,
                    [WEBSOCKET],
                    full_path,
                    handler,
                    plan,
                    name or _qualname(handler),
                    {
                        "include_in_schema": False,
                        "auth": list(auth) if auth is not None else None,
                        "guards": list(guards) if guards is not None else None,
                        "allowed_origins": (
                            list(allowed_origins) if allowed_origins is not None else None
                        ),
                    },
                )
            )
            return handler

        return decorator

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self.routes)} routes>"


def _qualname(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", "") or ""
    return f"{module}.{getattr(handler, '__qualname__', repr(handler))}".lstrip(".")
