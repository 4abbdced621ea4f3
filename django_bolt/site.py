"""The compiled site: every mounted route with its id, ready for the Rust router."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import join_paths
from .security import compile_route

if TYPE_CHECKING:
    from ._plan import RoutePlan
    from .api import BoltAPI


class Site:
    def __init__(self, mounts: list[tuple[str, BoltAPI]]) -> None:
        self.mounts = mounts
        self.plans: list[RoutePlan] = []
        self.apis: list[BoltAPI] = []
        self.table: list[tuple[str, str, int, bool, Any]] = []
        self.listing: list[tuple[str, str, str]] = []
        self.has_websockets = False
        for prefix, api in mounts:
            for route in api.routes:
                route_id = len(self.plans)
                compiled = compile_route(api, route, prefix)
                route.plan.gate = compiled.gate
                route.plan.django_chain = api.django_chain()
                self.plans.append(route.plan)
                self.apis.append(api)
                full = join_paths(prefix, route.path)
                for method in route.methods:
                    self.table.append(
                        (method, full, route_id, not route.plan.is_async, compiled.policy)
                    )
                self.has_websockets = self.has_websockets or "WEBSOCKET" in route.methods
                shown = ",".join("WS" if m == "WEBSOCKET" else m for m in route.methods)
                self.listing.append((shown, full, route.name))

    def describe(self) -> str:
        if not self.listing:
            return "  (no API routes)"
        width = max(len(m) for m, _, _ in self.listing)
        return "\n".join(f"  {m:<{width}}  {p}  ->  {n}" for m, p, n in self.listing)


def compile_site(urlconf: str | None = None) -> Site:
    from .mount import autodiscover, find_mounts

    mounts = find_mounts(urlconf)
    if not mounts:
        mounts = autodiscover()
    return Site(mounts)


def single_api_site(api: BoltAPI, prefix: str = "") -> Site:
    return Site([(prefix, api)])


__all__ = ["Site", "compile_site", "single_api_site", "Any"]
