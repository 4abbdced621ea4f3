"""What a request and a response are: errors, the request, uploads, encoding, rendering.

``from django_bolt.http import HttpRequest, JsonResponse`` gives the request handlers
receive and the JSON response class under the names Django users know."""

from __future__ import annotations

from typing import Any

__all__ = ["HttpRequest", "JsonResponse"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing one module of the package does not load the others.
    if name == "HttpRequest":
        from .request import Request

        return Request
    if name == "JsonResponse":
        from .responses import JSON

        return JSON
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
