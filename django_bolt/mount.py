"""urls.py is the one source of truth.

``api.urls`` yields Django URL patterns served by a Python view (for runserver, WSGI/ASGI
servers and Django's test client). ``find_mounts`` walks the project's URLconf to find
every BoltAPI mount and its prefix, which ``runbolt`` compiles into the Rust router.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync

from . import sessions
from ._plan import render_result
from .django_middleware import as_django_response
from .error_handlers import error_response
from .request import Request
from .responses import FileResponse, StreamingResponse, encode_chunk

if TYPE_CHECKING:
    from .api import BoltAPI, Route

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


def run_route(route: Route, job: Any, debug: bool) -> Any:
    """Runs one route to completion in the calling thread: (status, body, content type,
    headers), or a Django response for files and streams."""
    plan = route.plan
    request = Request(job)
    # Under Django's URL resolver the project's middleware already ran on this request.
    request._django_request = getattr(job, "_request", None)
    try:
        if plan.is_async:
            result = async_to_sync(_call_async)(plan, request)
        else:
            result = plan.call(request)
        if isinstance(result, (FileResponse, StreamingResponse)):
            return _django_special(result)
        status, body, content_type, headers = render_result(plan, result)
        if request.loaded_session is not None:
            headers = (headers or []) + sessions.finish_sync(request, status)
        return status, body, content_type, headers
    except Exception as exc:
        return error_response(exc, request, api=route.api, plan=plan, debug=debug)


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


async def _call_async(plan: Any, request: Request) -> Any:
    return await plan.call(request)


def _make_view(routes: dict[str, Route]) -> Any:
    from django.conf import settings
    from django.http import HttpResponse
    from django.views.decorators.csrf import csrf_exempt

    allow = sorted(set(routes) | ({"HEAD"} if "GET" in routes else set()))

    @csrf_exempt
    def bolt_view(request: Any, **params: str) -> Any:
        headers = [(k.lower(), v) for k, v in request.headers.items()]
        names = {k for k, _ in headers}
        if request.method == "OPTIONS" and {"origin", "access-control-request-method"} <= names:
            # A CORS preflight is answered from the policy of the route it asks about.
            asked = request.headers["Access-Control-Request-Method"].strip().upper()
            target = routes.get(asked) or (routes.get("GET") if asked == "HEAD" else None)
            if target is None:  # a CORS policy on the path refuses the method by name
                target = next(
                    (r for r in routes.values() if getattr(_compiled(r).policy, "has_cors", False)),
                    None,
                )
            policy = _compiled(target).policy if target is not None else None
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
        result = run_route(route, job, settings.DEBUG)
        if not isinstance(result, tuple):
            response = result
        else:
            response = as_django_response(*result)
        if policy is not None:
            for name, value in policy.cors_headers(headers):
                response[name] = value
        return response

    return bolt_view


def _compiled(route: Route) -> Any:
    """The route's policy for the Django-view path, compiled on first use."""
    compiled = getattr(route, "_compiled", None)
    if compiled is None:
        from .security import compile_route

        compiled = compile_route(route.api, route)
        route.plan.gate = compiled.gate
        route._compiled = compiled  # type: ignore[attr-defined]
    return compiled


def url_patterns(api: BoltAPI) -> list[Any]:
    from django.urls import re_path

    from .api import WEBSOCKET, django_regex

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


_REGEX_META = re.compile(r"[\\.^$*+?{}\[\]|()]")


def _literal_prefix(pattern: Any) -> str | None:
    """The literal text a URL pattern matches, or None when it is not a plain string."""
    route = getattr(pattern, "_route", None)
    if route is not None:
        return None if "<" in route else route
    regex = getattr(pattern, "_regex", None)
    if regex is None:
        return None
    if regex.startswith("^"):
        regex = regex[1:]
    unescaped = re.sub(r"\\(.)", r"\1", regex)
    if _REGEX_META.search(regex.replace("\\/", "").replace("\\-", "").replace("\\.", "")):
        return None
    return unescaped


def find_mounts(urlconf: str | None = None) -> list[tuple[str, BoltAPI]]:
    """Every (prefix, api) mounted in the URLconf, in URL order."""
    from django.urls import URLPattern, URLResolver, get_resolver

    mounts: list[tuple[str, BoltAPI]] = []
    seen: set[tuple[str, int]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                seg = _literal_prefix(p.pattern)
                if seg is None:
                    apis = _apis_in(p.url_patterns)
                    if apis:
                        logger.warning(
                            "BoltAPI mounted under the non-literal URL pattern %r is served "
                            "through Django's URL resolver, not the Rust router",
                            str(p.pattern),
                        )
                    continue
                walk(p.url_patterns, prefix + seg)
            elif isinstance(p, URLPattern):
                api = getattr(p.callback, "bolt_api", None)
                if api is not None and (prefix, id(api)) not in seen:
                    seen.add((prefix, id(api)))
                    mounts.append((prefix, api))

    walk(get_resolver(urlconf).url_patterns, "")
    return mounts


def _apis_in(patterns: list[Any]) -> list[Any]:
    from django.urls import URLResolver

    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found.extend(_apis_in(p.url_patterns))
        elif getattr(getattr(p, "callback", None), "bolt_api", None) is not None:
            found.append(p.callback.bolt_api)
    return found


def autodiscover() -> list[tuple[str, BoltAPI]]:
    """For projects that mount nothing: every BoltAPI found in an ``api`` module of the
    project package or of an installed app, served at the site root."""
    from django.apps import apps
    from django.conf import settings

    from .api import BoltAPI

    candidates = []
    settings_module = getattr(settings, "SETTINGS_MODULE", None) or os.environ.get(
        "DJANGO_SETTINGS_MODULE", ""
    )
    for module in (settings_module, getattr(settings, "ROOT_URLCONF", "")):
        if module and "." in module:
            candidates.append(module.rsplit(".", 1)[0] + ".api")
    candidates.extend(f"{cfg.name}.api" for cfg in apps.get_app_configs())
    mounts: list[tuple[str, BoltAPI]] = []
    seen: set[int] = set()
    for name in dict.fromkeys(candidates):
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, BoltAPI) and id(value) not in seen:
                seen.add(id(value))
                mounts.append(("", value))
    return mounts
