"""Turning what a handler returns into (status, body, content type, extra headers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponseBase

from .encoding import json_encode
from .responses import Response

JSON_TYPE = "application/json"
#: The body of every 500 that carries no details.
INTERNAL_ERROR = b'{"detail":"Internal Server Error"}'

Rendered = tuple[int, bytes, str | None, list[tuple[str, str]] | None]


#: Statuses whose answers carry no body (RFC 9110): whatever the handler returned.
NO_BODY = frozenset({204, 304})


def render_result(
    result: Any, status: int = 200, validate: Callable[[Any], Any] | None = None
) -> Rendered:
    """``result`` may be a dict, list, str, bytes, msgspec Struct, a ``Response``, a
    Django ``HttpResponse``, or ``(body, status)`` / ``(body, status, headers)``.
    ``status`` is the route's default; ``validate`` (the route's declared response type)
    checks and converts a plain body before it is encoded."""
    cls = type(result)
    if (cls is dict or cls is list) and validate is None and status not in NO_BODY:
        return status, json_encode(result), JSON_TYPE, None
    headers: list[tuple[str, str]] | None = None
    if cls is tuple:
        if len(result) == 2:
            result, status = result
        elif len(result) == 3:
            result, status, extra = result
            headers = [(str(k), str(v)) for k, v in dict(extra or {}).items()]
        else:
            raise TypeError("a handler may return (body, status) or (body, status, headers)")
        status = int(status)
    if isinstance(result, Response):
        hdrs = result.header_list()
        if headers:
            hdrs.extend(headers)
        media = result.media_type
        if media is None and not isinstance(result.content, (bytes, str)):
            media = JSON_TYPE
        code = result.status_code if cls is not tuple else status
        if code in NO_BODY:
            return code, b"", None, hdrs or None
        return code, result.render(), media, hdrs or None
    if isinstance(result, HttpResponseBase):
        hdrs = [(k, v) for k, v in result.items()]
        hdrs.extend(("set-cookie", c.output(header="").strip()) for c in result.cookies.values())
        body = result.content if not result.streaming else b"".join(result.streaming_content)
        result.close()
        return result.status_code, body, None, hdrs
    if status in NO_BODY:
        return status, b"", None, headers
    if validate is not None:
        result = validate(result)
    if isinstance(result, str):
        return status, result.encode(), "text/plain; charset=utf-8", headers
    if isinstance(result, (bytes, bytearray, memoryview)):
        return status, bytes(result), "application/octet-stream", headers
    return status, json_encode(result), JSON_TYPE, headers


def as_django_response(status: int, body: bytes, content_type: str | None, headers: Any) -> Any:
    """A handler's rendered answer as an HttpResponse, for the middleware to see."""
    from http.cookies import SimpleCookie

    from django.http import HttpResponse

    response = HttpResponse(body, status=status, content_type=content_type)
    if content_type is None:
        del response["Content-Type"]
    for name, value in headers or ():
        if name.lower() == "set-cookie":
            response.cookies.load(SimpleCookie(value))
        else:
            response[name] = value
    return response
