"""Django middleware around API routes: ``BoltAPI(django_middleware=True)`` (the project's
``MIDDLEWARE``) or ``django_middleware=[SecurityMiddleware, "dotted.path", ...]``.

The request is presented to the middleware as a real Django ``HttpRequest`` (built from
the Rust job), so ``request.session``, ``request.user``, ``alogin`` / ``alogout``, CSRF
cookies and messages behave exactly as in a Django view. The chain is built once per API and site
in Django's own way (each middleware adapted to the handler's sync or async mode);
``process_view`` hooks run before the handler. API routes are CSRF-exempt views, as under
runserver; ``SessionAuthentication`` enforces CSRF for session-authenticated writes.

Routes with Django middleware run in Python from the start (no Rust fast path); Rust
still answers CORS preflights, rate limits and token authentication first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed

_SPECIAL = "_bolt_special"


def resolve(spec: bool | Iterable[Any] | None) -> list[Any]:
    """The middleware classes for ``django_middleware=``."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    if spec is None or spec is False:
        return []
    items = list(settings.MIDDLEWARE) if spec is True else list(spec)
    out = []
    for item in items:
        cls = import_string(item) if isinstance(item, str) else item
        if not callable(cls):
            raise ImproperlyConfigured(f"django_middleware entry {item!r} is not a middleware")
        out.append(cls)
    return out


class Chain:
    """One API's Django middleware, wrapped around a route handler call."""

    def __init__(self, classes: list[Any]) -> None:
        self.classes = classes
        self._built: dict[bool, tuple[Callable[..., Any], list[Callable[..., Any]]]] = {}

    def _build(self, is_async: bool) -> tuple[Callable[..., Any], list[Callable[..., Any]]]:
        built = self._built.get(is_async)
        if built is not None:
            return built
        from django.conf import settings
        from django.core.handlers.base import BaseHandler
        from django.core.handlers.exception import convert_exception_to_response

        base = BaseHandler()
        view_hooks: list[Callable[..., Any]] = []
        handler: Any = convert_exception_to_response(_inner_async if is_async else _inner_sync)
        handler_is_async = is_async
        for cls in reversed(self.classes):
            can_sync = getattr(cls, "sync_capable", True)
            can_async = getattr(cls, "async_capable", False)
            if not can_sync and not can_async:
                raise ImproperlyConfigured(f"{cls!r} is neither sync nor async capable")
            mw_is_async = can_async if (handler_is_async or not can_sync) else False
            try:
                adapted = base.adapt_method_mode(
                    mw_is_async, handler, handler_is_async, debug=settings.DEBUG, name=repr(cls)
                )
                instance = cls(adapted)
            except MiddlewareNotUsed:
                continue
            if instance is None:
                raise ImproperlyConfigured(f"middleware factory {cls!r} returned None")
            hook = getattr(instance, "process_view", None)
            if hook is not None:
                view_hooks.insert(0, base.adapt_method_mode(is_async, hook))
            handler = convert_exception_to_response(instance)
            handler_is_async = mw_is_async
        handler = base.adapt_method_mode(is_async, handler, handler_is_async)
        self._built[is_async] = (handler, view_hooks)
        return handler, view_hooks

    def run_sync(self, request: Any, call: Callable[[Any], Any]) -> Any:
        handler, hooks = self._build(False)
        dj = request.django_request
        dj._bolt = (request, call, hooks)
        return handler(dj)

    async def run_async(self, request: Any, call: Callable[[Any], Any]) -> Any:
        handler, hooks = self._build(True)
        dj = request.django_request
        dj._bolt = (request, call, hooks)
        return await handler(dj)


def _view(request: Any) -> None:
    """Stands for the route in ``process_view`` hooks (an API view is CSRF-exempt)."""


_view.csrf_exempt = True  # type: ignore[attr-defined]


def _inner_sync(dj: Any) -> Any:
    request, call, hooks = dj._bolt
    for hook in hooks:
        early = hook(dj, _view, (), {})
        if early is not None:
            return early
    return call(request)


async def _inner_async(dj: Any) -> Any:
    request, call, hooks = dj._bolt
    for hook in hooks:
        early = await hook(dj, _view, (), {})
        if early is not None:
            return early
    result = call(request)
    return await result if inspect.isawaitable(result) else result


def special_placeholder(result: Any) -> Any:
    """Stands for a file or stream while the middleware runs; its headers and cookies are
    copied onto the real response afterwards."""
    from django.http import HttpResponse

    response = HttpResponse(status=result.status_code)
    del response["Content-Type"]
    setattr(response, _SPECIAL, result)
    return response


def special_of(response: Any) -> Any:
    return getattr(response, _SPECIAL, None)


def response_headers(response: Any) -> list[tuple[str, str]]:
    """Headers and cookies of a Django response, as WSGIHandler would send them."""
    headers = list(response.items())
    headers += [("Set-Cookie", c.OutputString()) for c in response.cookies.values()]
    return headers
