"""``@json_response()``: whatever the function returns is sent as JSON.

    @json_response()
    def get_users(request: HttpRequest) -> JsonResponse:
        return {"users": []}

On a route the result becomes a ``JsonResponse`` (``status`` and ``headers`` as given);
the same function used as a plain Django view (in ``urls.py``) returns a Django
``HttpResponse`` with the JSON body. Responses the function builds itself pass unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..http.encoding import json_encode
from ..http.responses import JSON, Response

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["json_response"]


def json_response(status: int = 200, headers: dict[str, str] | None = None) -> Callable[[F], F]:
    """Sends the function's result as JSON with ``status`` and ``headers``."""

    def wrap(result: Any, args: tuple[Any, ...]) -> Any:
        from django.http import HttpRequest as DjangoRequest
        from django.http import HttpResponse, HttpResponseBase

        if isinstance(result, (Response, HttpResponseBase)):
            return result
        if args and isinstance(args[0], DjangoRequest):
            response = HttpResponse(
                json_encode(result), status=status, content_type="application/json"
            )
            for name, value in (headers or {}).items():
                response[name] = value
            return response
        return JSON(result, status, headers)

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return wrap(await fn(*args, **kwargs), args)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return wrap(fn(*args, **kwargs), args)

        return run  # type: ignore[return-value]

    return decorate
