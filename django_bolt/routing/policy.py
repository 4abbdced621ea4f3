"""Compiles each route's authentication, guards and middleware into a Rust
``RoutePolicy`` (and, when Python must take part, a Python ``Gate``).

Precedence, most specific first: the route's ``auth=`` / ``guards=`` replace the API's;
``@cors`` / ``@rate_limit`` on the handler replace the API's middleware of that kind;
the API's ``middleware=[...]`` and ``middleware_config={...}`` replace the project's
``BOLT_CORS`` / ``BOLT_COMPRESSION`` settings; ``@skip_middleware`` removes the API's
(and ``"security_headers"``, Django's security headers, which ``BoltAPI(security_headers=
False)`` turns off for a whole API).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from .. import conf
from .._core import RoutePolicy
from ..auth.backends import APIKeyAuthentication, BaseAuth, JWTAuthentication
from ..auth.gate import Gate
from ..auth.guards import BaseGuard, _BackendRequired, as_guard
from ..auth.store import shared_backend
from ..conf import string_list
from ..middleware.builtin import (
    CompressionConfig,
    CORSMiddleware,
    RateLimitMiddleware,
    middleware_kind,
)
from ..middleware.cache import cache_of
from ..middleware.custom import Middleware, MiddlewareChain, as_middleware, is_python_middleware
from ..middleware.decorators import PYTHON, route_middleware
from .paths import WEBSOCKET

if TYPE_CHECKING:
    from .router import Route, Router


@dataclass
class Compiled:
    policy: RoutePolicy | None
    gate: Gate | None
    #: The API's and the route's Python middleware, None when there is none.
    middleware: MiddlewareChain | None = None


_GRANT_GUARDS = {"all_permissions", "any_permission", "any_role", "staff", "superuser"}


def as_auth(value: Any) -> BaseAuth:
    if isinstance(value, type) and issubclass(value, BaseAuth):
        value = value()
    if not isinstance(value, BaseAuth):
        raise TypeError(f"{value!r} is not an authentication backend (a BaseAuth)")
    value.validate()
    return value


def api_middleware(router: Router) -> dict[str, Any]:
    """The API's global middleware by kind, settings included."""
    found: dict[str, Any] = {}
    cors = conf.cors()
    if cors:
        found["cors"] = (
            cors if isinstance(cors, CORSMiddleware) else CORSMiddleware.from_config(cors)
        )
    compression = conf.compression()
    if compression:
        found["compression"] = CompressionConfig.from_config(compression)
    for kind, config in (router.middleware_config or {}).items():
        kind = middleware_kind(kind)
        if kind == "cors":
            found[kind] = CORSMiddleware.from_config(config)
        elif kind == "rate_limit":
            found[kind] = RateLimitMiddleware.from_config(config)
        else:
            found[kind] = CompressionConfig.from_config(config)
    for item in router.middleware or ():
        if is_python_middleware(item):
            continue
        if isinstance(item, type):
            item = item()
        found[middleware_kind(item)] = item
    return found


def python_middleware(router: Router, route: Route) -> MiddlewareChain | None:
    """The API's Python middleware, then the route's ``@middleware(...)`` (HTTP routes)."""
    if WEBSOCKET in route.methods:
        return None
    items = list(api_python_middleware(router))
    page = cache_of(route.handler)
    if page is not None:
        items.insert(0, page)  # outermost: what it keeps is the final answer
    items.extend(route_middleware(route.handler).get(PYTHON, []))
    return MiddlewareChain(items) if items else None


def api_python_middleware(router: Router) -> tuple[Middleware, ...]:
    """The API's Python middleware, made once for all its routes (a class is
    instantiated once), again only when ``router.middleware`` changes."""
    given = tuple(m for m in router.middleware or () if is_python_middleware(m))
    made = getattr(router, "_python_middleware", None)
    if made is None or made[0] != given:
        made = (given, tuple(as_middleware(m) for m in given))
        router._python_middleware = made
    return made[1]


def default_auth(guards: list[BaseGuard]) -> list[BaseAuth]:
    """Authentication for a route with guards but no ``auth=``: ``BOLT_AUTHENTICATION``
    when set, else JWT (and API keys where ``api_key_required`` asks for them)."""
    if not any(g.requires_authentication for g in guards):
        return []
    configured = conf.default_authentication()
    if configured:
        return [as_auth(a) for a in configured]
    wanted = {g.backend for g in guards if isinstance(g, _BackendRequired)}
    if wanted == {"api_key"}:
        return [APIKeyAuthentication()]
    out: list[BaseAuth] = [JWTAuthentication()]
    if "api_key" in wanted:
        out.append(APIKeyAuthentication())
    return out


def websocket_origins(allowed: Any) -> dict[str, list[str]]:
    """Who may open a WebSocket from a browser: the route's ``allowed_origins``, else
    ``BOLT["WS_ALLOWED_ORIGINS"]``, else pages served from ``ALLOWED_HOSTS`` (with
    Django's own defaults for local hosts under DEBUG)."""
    from django.conf import settings

    if allowed is None:
        allowed = conf.websocket_allowed_origins()
    if allowed is not None:
        return {"origins": string_list(allowed) or [], "hosts": []}
    hosts = [str(h) for h in settings.ALLOWED_HOSTS]
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return {"origins": [], "hosts": hosts}


def compile_route(
    router: Router,
    route: Route,
    mount_prefix: str = "",
    security_headers: dict[str, Any] | None = None,
) -> Compiled:
    """The route's policy. ``security_headers`` (from ``security_headers_spec()``) is what
    the Rust server adds to answers in place of Django's security middleware; the Django
    view of ``api.urls`` leaves it out, as Django's own middleware runs there."""
    try:
        compiled = _compile(router, route, mount_prefix, security_headers)
        compiled.middleware = python_middleware(router, route)
        return compiled
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{route.name} ({route.path}): {exc}") from exc


def route_auth(router: Router, route: Route) -> tuple[list[BaseAuth], list[BaseGuard]]:
    """The authentication backends and guards that apply to a route."""
    options = route.options
    raw_guards = options.get("guards")
    if raw_guards is None:
        raw_guards = router.guards or []
    guards = [as_guard(g) for g in raw_guards]
    raw_auth = options.get("auth")
    if raw_auth is None:
        raw_auth = router.auth
    auth = default_auth(guards) if raw_auth is None else [as_auth(a) for a in raw_auth]
    return auth, guards


def _compile(
    router: Router, route: Route, mount_prefix: str, security: dict[str, Any] | None
) -> Compiled:
    auth, guards = route_auth(router, route)

    spec: dict[str, Any] = {}
    if auth or guards:
        spec["auth"] = [a.to_spec() for a in auth]
        spec["guards"] = [g.to_spec() for g in guards]

    page = cache_of(route.handler)
    if page is not None:
        if set(route.methods) - {"GET", "HEAD"}:
            raise ValueError("cache_page applies to GET routes only")
        page.validate()
        spec["cache"] = {"per_user": page.per_user, "cookies": page.cookies}

    declared = route_middleware(route.handler)
    skipped = declared.get("skip", set())
    global_mw = {k: v for k, v in api_middleware(router).items() if k not in skipped}
    cors = declared.get("cors") or global_mw.get("cors")
    if cors is not None:
        spec["cors"] = cors.to_spec()
    limit = declared.get("rate_limit")
    if limit is not None:
        spec["rate_limit"] = limit.to_spec(f"route:{mount_prefix}{route.path}", shared_backend())
    elif "rate_limit" in global_mw:
        scope = f"api:{mount_prefix}{router.prefix or '/'}"
        spec["rate_limit"] = global_mw["rate_limit"].to_spec(scope, shared_backend())
    compression = declared.get("compression") or global_mw.get("compression")
    if compression is not None:
        spec["compression"] = compression.to_spec()
    if WEBSOCKET in route.methods:
        spec["websocket_origins"] = websocket_origins(route.options.get("allowed_origins"))
    elif security and router.security_headers and "security_headers" not in skipped:
        spec["security_headers"] = security
    if not spec:
        return Compiled(None, None)
    spec["trusted_proxies"] = conf.trusted_proxies()
    policy = RoutePolicy(spec)

    needs_python = any(not a.runs_in_rust for a in auth) or any(
        g.to_spec()["kind"] == "python" for g in guards
    )
    needs_python = needs_python or any(
        isinstance(a, JWTAuthentication)
        and a.revocation is not None
        and a.revocation.rust_backend() is None
        for a in auth
    )
    # An identity that leaves out the grant a guard reads (a token without the claim, a
    # test client's forced user) is decided in Python from Django.
    needs_python = needs_python or any(g.to_spec()["kind"] in _GRANT_GUARDS for g in guards)
    gate = Gate(auth, guards, policy.challenge) if needs_python else None
    return Compiled(policy, gate)
