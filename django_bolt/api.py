"""BoltAPI: declare routes with decorators, mount them with ``path("api/", api.urls)``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

from ._plan import RoutePlan

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: The router's pseudo-method for WebSocket routes.
WEBSOCKET = "WEBSOCKET"
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


class Route:
    """One handler bound to a path and one or more methods."""

    __slots__ = ("methods", "path", "handler", "plan", "name", "api", "options", "_compiled")

    def __init__(
        self,
        api: BoltAPI,
        methods: list[str],
        path: str,
        handler: Callable[..., Any],
        plan: RoutePlan,
        name: str,
        options: dict[str, Any],
    ) -> None:
        self.api = api
        self.methods = methods
        self.path = path
        self.handler = handler
        self.plan = plan
        self.name = name
        self.options = options
        self._compiled: Any = None

    def __repr__(self) -> str:
        return f"<Route {','.join(self.methods)} {self.path} -> {self.name}>"


def join_paths(*parts: str) -> str:
    """Joins mount prefix, API prefix and route path into one absolute path."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and not out.endswith("/"):
            out += "/"
        out += part.lstrip("/") if out else part
    if not out.startswith("/"):
        out = "/" + out
    return out


class BoltAPI:
    """A set of typed routes.

    ``prefix`` is prepended to every route path of this API (inside its mount point).
    ``exception_handler(exc, request)`` may turn exceptions into a handler-style result.
    ``auth`` and ``guards`` are the defaults for every route (a route's own replace them);
    ``middleware`` (CORSMiddleware, RateLimitMiddleware, CompressionMiddleware instances)
    or the equivalent ``middleware_config={"cors": {...}, ...}`` apply to every route.
    ``django_middleware=True`` (the project's MIDDLEWARE) or a list of middleware runs
    Django middleware around every route of this API. ``info`` (an ``OpenAPIInfo``)
    describes the API in its OpenAPI document, served at ``openapi_url`` with the
    Swagger UI, ReDoc, Scalar and RapiDoc pages (``docs=False`` leaves those out).
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        exception_handler: Callable[[Exception, Any], Any] | None = None,
        title: str = "API",
        version: str = "1.0.0",
        description: str = "",
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        middleware: list[Any] | None = None,
        middleware_config: dict[str, Any] | None = None,
        django_middleware: bool | list[Any] | None = None,
        info: Any = None,
        openapi_url: str | None = "/openapi.json",
        docs: bool = True,
    ) -> None:
        if prefix and not prefix.startswith("/"):
            prefix = "/" + prefix
        self.prefix = prefix.rstrip("/")
        self.exception_handler = exception_handler
        self.title = title
        self.version = version
        self.description = description
        self.auth = list(auth) if auth is not None else None
        self.guards = list(guards) if guards is not None else None
        self.middleware = list(middleware or [])
        self.middleware_config = dict(middleware_config or {})
        self.django_middleware = django_middleware
        self._django_chain: Any = None
        self.routes: list[Route] = []
        from .openapi import OpenAPIInfo

        self.info = info or OpenAPIInfo(title=title, version=version, description=description)
        if openapi_url:
            from .openapi.docs import add_docs_routes

            add_docs_routes(self, openapi_url, docs)

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

    # -- class-based routes -------------------------------------------------------------
    def viewset(
        self,
        prefix: str,
        *,
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        tags: list[str] | None = None,
    ) -> Callable[[type], type]:
        """``@api.viewset("/articles")`` on a ViewSet class: its conventional methods
        (list, retrieve, create, update, partial_update, destroy), ``@action`` and
        ``@route`` methods become routes under ``prefix``."""
        from .views import register

        def decorator(cls: type) -> type:
            return register(self, cls, prefix, auth=auth, guards=guards, tags=tags)

        return decorator

    def register_viewset(
        self,
        viewset: type,
        prefix: str = "",
        *,
        auth: list[Any] | None = None,
        guards: list[Any] | None = None,
        tags: list[str] | None = None,
    ) -> type:
        """The call form of ``@api.viewset``."""
        from .views import register

        return register(self, viewset, prefix, auth=auth, guards=guards, tags=tags)

    async def group_send(self, group: str, message: Any) -> None:
        """Sends ``message`` (str, bytes or anything JSON-encodable) to every WebSocket in
        ``group``, on every process when ``BOLT_REDIS_URL`` is set."""
        from .groups import group_send

        await group_send(group, message)

    def group_send_sync(self, group: str, message: Any) -> None:
        """``group_send`` for code without an event loop (sync views, commands, tasks)."""
        from .groups import group_send_sync

        group_send_sync(group, message)

    def django_chain(self) -> Any:
        """The Django middleware chain of ``django_middleware=``, or None."""
        if not self.django_middleware:
            return None
        if self._django_chain is None:
            from .django_middleware import Chain, resolve

            self._django_chain = Chain(resolve(self.django_middleware))
        return self._django_chain

    # -- mounting in urls.py -------------------------------------------------------------
    @property
    def urls(self) -> tuple[list[Any], None, None]:
        """``path("api/", api.urls)``: ordinary Django URL patterns, so the routes also
        answer under runserver, any WSGI/ASGI server and Django's test client;
        ``runbolt`` finds the mount and serves the routes from its Rust router."""
        from .mount import url_patterns

        return url_patterns(self), None, None

    def __repr__(self) -> str:
        return f"<BoltAPI {len(self.routes)} routes>"


def _qualname(handler: Callable[..., Any]) -> str:
    module = getattr(handler, "__module__", "") or ""
    return f"{module}.{getattr(handler, '__qualname__', repr(handler))}".lstrip(".")


def django_regex(path: str) -> str:
    """``/users/{id}`` -> ``^users/(?P<id>[^/]+)$`` (relative to the include prefix)."""
    out = ["^"]
    pos = 0
    rel = path.lstrip("/")
    for m in _PARAM.finditer(rel):
        out.append(re.escape(rel[pos : m.start()]))
        kind = m.group(2)
        out.append(f"(?P<{m.group(1)}>{'.+' if kind == 'path' else '[^/]+'})")
        pos = m.end()
    out.append(re.escape(rel[pos:]))
    out.append("$")
    return "".join(out)
