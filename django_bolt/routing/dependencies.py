"""``Depends``: arguments computed by other callables, resolved once per request."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, get_args, get_origin

from ..http.request import Request
from . import params as markers


def depends_marker(annotation: Any, default: Any) -> markers.Depends | None:
    if isinstance(default, markers.Depends):
        return default
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, markers.Depends):
                return extra
    return None


class DependencyExtractor:
    """Resolves one ``Depends`` argument, once per request unless ``use_cache=False``."""

    def __init__(self, dependency: Any, use_cache: bool, plan: Any) -> None:
        # ``plan`` is the dependency's own RoutePlan: its arguments are extracted the
        # same way as a handler's.
        self.dependency = dependency
        self.use_cache = use_cache
        self.plan = plan
        self.returns_awaitable = inspect.iscoroutinefunction(dependency)
        self.is_async = self.returns_awaitable or self.plan.async_extract

    def __call__(self, request: Request) -> Any:
        """Synchronous resolution (no async dependency anywhere below)."""
        cache = request.dependency_cache
        if self.use_cache and self.dependency in cache:
            return cache[self.dependency]
        value = self.dependency(**self.plan.extract(request))
        if self.use_cache:
            cache[self.dependency] = value
        return value

    async def aresolve(self, request: Request) -> Any:
        cache = request.dependency_cache
        if self.use_cache and self.dependency in cache:
            return cache[self.dependency]
        kwargs = (
            await self.plan.aextract(request)
            if self.plan.async_extract
            else self.plan.extract(request)
        )
        value = self.dependency(**kwargs)
        if inspect.isawaitable(value):
            value = await value
        if self.use_cache:
            cache[self.dependency] = value
        return value


def dependency_callable(depends: markers.Depends, annotation: Any, owner: str) -> Any:
    """What ``Depends()`` calls: its argument, else the annotated class."""
    dependency = depends.dependency
    if dependency is None:
        base = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
        if not callable(base) or base is inspect.Parameter.empty:
            raise TypeError(f"{owner}: Depends() needs a callable or a class annotation")
        dependency = base
    return dependency


def callable_name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__
