"""The compiled site: every mounted route with its id, ready for the Rust router."""

from __future__ import annotations

import copy
import re

from django.core.exceptions import ImproperlyConfigured

from ..boundary import RouteEntry
from ..contrib.security import security_headers_spec
from ..openapi.docs import is_docs_route
from ..routing.discovery import autodiscover, find_mounts
from ..routing.paths import WEBSOCKET, join_paths
from ..routing.plan import RoutePlan
from ..routing.policy import compile_route
from ..routing.router import Route, Router
from .middleware_chain import Chain, resolve

#: Path parameters, whatever their names and types: /items/{id} and /items/{pk} clash.
_PARAM = re.compile(r"\{[^}]*\}")


class Site:
    def __init__(self, mounts: list[tuple[str, Router]], *, debug: bool | None = None) -> None:
        from django.conf import settings

        debug = settings.DEBUG if debug is None else debug
        self.mounts = mounts
        self.plans: list[RoutePlan] = []
        self.table: list[RouteEntry] = []
        self.listing: list[tuple[str, str, str]] = []
        self.has_websockets = False
        chains: dict[int, Chain | None] = {}
        security = security_headers_spec()
        for _, router in mounts:
            router.docs_with = []
        owners: dict[tuple[str, str], Route] = {}
        for prefix, router in mounts:
            if id(router) not in chains:
                middleware = resolve(router.django_middleware)
                chains[id(router)] = Chain(middleware) if middleware else None
            for route in router.routes:
                if not self._claim(owners, prefix, route):
                    continue
                route_id = len(self.plans)
                compiled = compile_route(router, route, prefix, security)
                # The site's own copy: other sites (and the Django view of api.urls) bind
                # theirs with their own settings.
                plan = copy.copy(route.plan)
                plan.bind(
                    gate=compiled.gate,
                    django_chain=chains[id(router)],
                    exception_handler=router.exception_handler,
                    debug=debug,
                    atomic=True,
                    middleware=compiled.middleware,
                )
                self.plans.append(plan)
                full = join_paths(prefix, route.path)
                for method in route.methods:
                    self.table.append(
                        RouteEntry(method, full, route_id, not plan.is_async, compiled.policy)
                    )
                self.has_websockets = self.has_websockets or WEBSOCKET in route.methods
                shown = ",".join("WS" if m == WEBSOCKET else m for m in route.methods)
                self.listing.append((shown, full, route.name))

    @staticmethod
    def _claim(owners: dict[tuple[str, str], Route], prefix: str, route: Route) -> bool:
        """Records the route's (method, path) pairs. Two APIs served at the same place
        share one set of documentation routes (the first API's, its document covering
        both): False for the second's. Any other clash is a configuration error."""
        shape = _PARAM.sub("{}", join_paths(prefix, route.path))
        keys = [(method, shape) for method in route.methods]
        earlier = next((owners[k] for k in keys if k in owners), None)
        if earlier is None:
            owners.update(dict.fromkeys(keys, route))
            return True
        if is_docs_route(route) and is_docs_route(earlier):
            if route.router not in earlier.router.docs_with and route.router is not earlier.router:
                earlier.router.docs_with.append(route.router)
            return False
        method = next(m for m, _ in keys if (m, shape) in owners)
        raise ImproperlyConfigured(
            f"{method} {join_paths(prefix, route.path)} is handled twice: by "
            f"{earlier.name} and by {route.name}"
        )

    def describe(self) -> str:
        if not self.listing:
            return "  (no API routes)"
        width = max(len(m) for m, _, _ in self.listing)
        return "\n".join(f"  {m:<{width}}  {p}  ->  {n}" for m, p, n in self.listing)


def compile_site(urlconf: str | None = None, *, debug: bool | None = None) -> Site:
    """The site runbolt serves: every BoltAPI mounted in the URLconf, else those
    discovered in ``api`` modules."""
    mounts = find_mounts(urlconf)
    if not mounts:
        mounts = autodiscover()
    return Site(mounts, debug=debug)
