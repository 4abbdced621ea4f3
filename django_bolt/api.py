"""BoltAPI: declare routes with decorators, mount them with ``path("api/", api.urls)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .openapi.docs import add_docs_routes
from .openapi.schema import OpenAPIInfo
from .routing.mount import url_patterns
from .routing.router import Route, Router
from .routing.viewsets import register
from .websocket.groups import group_send, group_send_sync


class BoltAPI(Router):
    """A Router (routes, prefix, default auth, guards and middleware, exception handler)
    with its OpenAPI document and documentation pages, mounted with ``api.urls``.

    ``info`` (an ``OpenAPIInfo``, else one made of ``title``, ``version`` and
    ``description``) describes the API in its OpenAPI document, served at
    ``openapi_url`` with the Swagger UI, ReDoc, Scalar and RapiDoc pages (``docs=False``
    leaves those out).
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
        security_headers: bool = True,
    ) -> None:
        super().__init__(
            prefix=prefix,
            exception_handler=exception_handler,
            auth=auth,
            guards=guards,
            middleware=middleware,
            middleware_config=middleware_config,
            django_middleware=django_middleware,
            security_headers=security_headers,
        )
        self.title = title
        self.version = version
        self.description = description
        self.info = info or OpenAPIInfo(title=title, version=version, description=description)
        if openapi_url:
            add_docs_routes(self, openapi_url, docs)

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
        return register(self, viewset, prefix, auth=auth, guards=guards, tags=tags)

    async def group_send(self, group: str, message: Any) -> None:
        """Sends ``message`` (str, bytes or anything JSON-encodable) to every WebSocket in
        ``group``, on every process when ``BOLT_REDIS_URL`` is set."""
        await group_send(group, message)

    def group_send_sync(self, group: str, message: Any) -> None:
        """``group_send`` for code without an event loop (sync views, commands, tasks)."""
        group_send_sync(group, message)

    # -- mounting in urls.py -------------------------------------------------------------
    @property
    def urls(self) -> tuple[list[Any], None, None]:
        """``path("api/", api.urls)``: ordinary Django URL patterns, so the routes also
        answer under runserver, any WSGI/ASGI server and Django's test client;
        ``runbolt`` finds the mount and serves the routes from its Rust router."""
        return url_patterns(self), None, None


__all__ = ["BoltAPI", "Route", "Router"]
