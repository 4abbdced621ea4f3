"""The compiled site: every mounted route with its id, ready for the Rust router."""

from __future__ import annotations

import copy

from ..boundary import RouteEntry
from ..routing.discovery import autodiscover, find_mounts
from ..routing.paths import WEBSOCKET, join_paths
from ..routing.plan import RoutePlan
from ..routing.policy import compile_route
from ..routing.router import Router
from .middleware_chain import Chain, resolve


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
        for prefix, router in mounts:
            if id(router) not in chains:
                middleware = resolve(router.django_middleware)
                chains[id(router)] = Chain(middleware) if middleware else None
            for route in router.routes:
                route_id = len(self.plans)
                compiled = compile_route(router, route, prefix)
                # The site's own copy: other sites (and the Django view of api.urls) bind
                # theirs with their own settings.
                plan = copy.copy(route.plan)
                plan.bind(
                    gate=compiled.gate,
                    django_chain=chains[id(router)],
                    exception_handler=router.exception_handler,
                    debug=debug,
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
