"""urls.py is the one source of truth: ``api.urls`` yields Django URL patterns served
by a Python view (for runserver, WSGI/ASGI servers and Django's test client), running
each route through the same RoutePlan as runbolt. ``discovery.find_mounts`` finds the
same mounts for runbolt's Rust router."""

from __future__ import annotations

import copy
import logging
import os
from typing import Any

from .._core import RoutePolicy
from ..http.rendering import as_django_response
from ..http.request import Request
from ..http.responses import FileResponse, encode_chunk
from .paths import WEBSOCKET, django_regex
from .policy import compile_route
from .router import Route, Router

logger = logging.getLogger("django_bolt")


class DjangoJob:
    """Presents a Django HttpRequest with the interface of a Rust job."""

    route_id = -2
    answered = False

    def __init__(
        self,
        request: Any,
        params: dict[str, str],
        context: dict[str, Any] | None = None,
        auth_pending: bool = False,
    ) -> None:
        self._request = request
        self._params = params
        self._context = context
        self.auth_pending = auth_pending
        self.method = request.method
        self.path = request.path
        self.query_string = request.META.get("QUERY_STRING", "")

    @property
    def body(self) -> bytes:
        return self._request.body

    @property
    def scheme(self) -> str:
        return self._request.scheme

    @property
    def client(self) -> tuple[str, int] | None:
        addr = self._request.META.get("REMOTE_ADDR")
        return (addr, int(self._request.META.get("REMOTE_PORT") or 0)) if addr else None

    def params(self) -> dict[str, str]:
        return dict(self._params)

    def context(self) -> dict[str, Any] | None:
        return self._context

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self._request.GET.items()}

    def query_pairs(self) -> list[tuple[str, str]]:
        return [(k, v) for k, values in self._request.GET.lists() for v in values]

    def headers(self) -> list[tuple[str, str]]:
        return [(k.lower(), v) for k, v in self._request.headers.items()]

    def form_fields(self) -> list[tuple[str, str]]:
        return [(k, v) for k, values in self._request.POST.lists() for v in values]

    def form_files(self) -> list[tuple[Any, ...]]:
        parts = []
        for field, files in self._request.FILES.lists():
            for f in files:
                path = f.temporary_file_path() if hasattr(f, "temporary_file_path") else None
                data = None if path else f.read()
                headers = [("content-type", f.content_type)] if f.content_type else []
                parts.append((field, f.name, f.content_type, f.size, headers, data, path))
        return parts


def run_route(route: Route, job: Any) -> Any:
    """Runs one route to completion in the calling thread: (status, body, content type,
    headers), or a Django response for files and streams."""
    from django.conf import settings

    plan = _compiled(route).plan
    # Read per request, as Django reads them (override_settings, a changed handler).
    plan.bind(
        gate=plan.gate,
        django_chain=None,  # Django's own middleware already runs around this view
        exception_handler=route.router.exception_handler,
        debug=settings.DEBUG,
        middleware=plan.middleware,
    )
    request = Request(job)
    # Under Django's URL resolver the project's middleware already ran on this request.
    request._django_request = getattr(job, "_request", None)
    answer = plan.run_sync(request)
    if isinstance(answer, tuple):
        return answer
    try:
        return _django_special(answer)
    except Exception as exc:
        return plan.error(exc, request)


def _django_special(result: Any) -> Any:
    from django.http import FileResponse as DjangoFileResponse
    from django.http import Http404, StreamingHttpResponse

    if isinstance(result, FileResponse):
        path = result.path
        if path is None:
            raise Http404("File not found")
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed by Django's response
        except (FileNotFoundError, IsADirectoryError):
            raise Http404("File not found") from None
        response = DjangoFileResponse(
            handle,
            as_attachment=result.disposition == "attachment",
            filename=result.filename or os.path.basename(path),
            status=result.status_code,
        )
        if result.media_type:
            response["Content-Type"] = result.media_type
    else:
        content = result.content
        if result.is_async:
            chunks: Any = (encode_chunk(item) async for item in content)
        else:
            chunks = (encode_chunk(item) for item in content)
        response = StreamingHttpResponse(
            chunks,
            status=result.status_code,
            content_type=result.media_type or "application/octet-stream",
        )
    for name, value in result.header_list():
        if name.lower() != "set-cookie":
            response[name] = value
    return response


def _make_view(routes: dict[str, Route]) -> Any:
    from django.http import HttpResponse
    from django.views.decorators.csrf import csrf_exempt

    allow = sorted(set(routes) | ({"HEAD"} if "GET" in routes else set()))

    @csrf_exempt
    def bolt_view(request: Any, **params: str) -> Any:
        headers = [(k.lower(), v) for k, v in request.headers.items()]
        names = {k for k, _ in headers}
        if request.method == "OPTIONS" and {"origin", "access-control-request-method"} <= names:
            # Which route's policy answers is the Rust server's rule.
            policy = RoutePolicy.for_preflight(
                [(method, _compiled(route).policy) for method, route in routes.items()],
                request.headers["Access-Control-Request-Method"].strip(),
            )
            if policy is not None and policy.has_cors:
                _, status, extra, body = policy.check("OPTIONS", headers)
                return as_django_response(status, body, None, extra)
        route = routes.get(request.method)
        if route is None and request.method == "HEAD":
            route = routes.get("GET")
        if route is None:
            response = HttpResponse(
                b'{"detail":"Method Not Allowed"}', status=405, content_type="application/json"
            )
            response["Allow"] = ", ".join(allow)
            return response
        policy = _compiled(route).policy
        context = None
        pending = False
        if policy is not None:
            verdict = policy.check(
                request.method,
                headers,
                request.META.get("QUERY_STRING", ""),
                request.META.get("REMOTE_ADDR") or None,
            )
            if verdict[0] == "reject":
                _, status, extra, body = verdict
                return as_django_response(status, body, None, extra)
            _, context, pending = verdict
        job = DjangoJob(request, params, context, pending)
        result = run_route(route, job)
        if not isinstance(result, tuple):
            response = result
        else:
            response = as_django_response(*result)
        if policy is not None:
            for name, value in policy.cors_headers(headers):
                response[name] = value
        return response

    return bolt_view


class _MountedRoute:
    """A route as the Django view runs it: its compiled policy and its own copy of the
    plan (runbolt's sites bind theirs separately)."""

    __slots__ = ("policy", "plan")

    def __init__(self, route: Route) -> None:
        compiled = compile_route(route.router, route)
        self.policy = compiled.policy
        self.plan = copy.copy(route.plan)
        self.plan.bind(
            gate=compiled.gate,
            django_chain=None,
            exception_handler=None,
            debug=False,
            middleware=compiled.middleware,
        )


def _compiled(route: Route) -> _MountedRoute:
    """The route's policy and plan for the Django-view path, compiled on first use."""
    mounted = route._compiled
    if mounted is None:
        mounted = route._compiled = _MountedRoute(route)
    return mounted


def url_patterns(api: Router) -> list[Any]:
    from django.urls import re_path

    by_path: dict[str, dict[str, Route]] = {}
    for route in api.routes:
        if WEBSOCKET in route.methods:
            continue  # WebSockets are served by runbolt only
        methods = by_path.setdefault(route.path, {})
        for method in route.methods:
            methods[method] = route
    patterns = []
    for path, routes in by_path.items():
        view = _make_view(routes)
        view.bolt_api = api  # type: ignore[attr-defined]
        patterns.append(re_path(django_regex(path), view))
    if not patterns:
        # An API with no routes yet still marks its mount point.
        def empty_view(request: Any) -> Any:
            from django.http import Http404

            raise Http404

        empty_view.bolt_api = api  # type: ignore[attr-defined]
        patterns.append(re_path(r"^\Z(?!x)x", empty_view))
    return patterns
