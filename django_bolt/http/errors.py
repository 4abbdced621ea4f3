"""HTTP errors a handler may raise; each carries its status, detail and headers."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class HTTPException(Exception):
    """An error answered as ``{"detail": ...}`` with ``status_code``.

    ``detail`` may be a string, a list or a dict (kept as a JSON object). ``headers`` are
    added to the response; ``extra`` is merged into the JSON body beside ``detail``.
    """

    status_code: int = 500

    def __init__(
        self,
        status_code: int | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = int(status_code)
        if detail is None:
            try:
                detail = HTTPStatus(self.status_code).phrase
            except ValueError:
                detail = "Error"
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code}, detail={self.detail!r})"


#: ``raise ApiError(400, "User not active")``: HTTPException under another name.
ApiError = HTTPException


def _http_error(name: str, status: int, message: str) -> type[HTTPException]:
    def __init__(
        self,
        detail: Any = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        HTTPException.__init__(self, status, message if detail is None else detail, headers, extra)

    return type(name, (HTTPException,), {"status_code": status, "__init__": __init__})


BadRequest = _http_error("BadRequest", 400, "Bad Request")
Unauthorized = _http_error("Unauthorized", 401, "Unauthorized")
Forbidden = _http_error("Forbidden", 403, "Forbidden")
NotFound = _http_error("NotFound", 404, "Not Found")
MethodNotAllowed = _http_error("MethodNotAllowed", 405, "Method Not Allowed")
Conflict = _http_error("Conflict", 409, "Conflict")
PayloadTooLarge = _http_error("PayloadTooLarge", 413, "Payload Too Large")
UnsupportedMediaType = _http_error("UnsupportedMediaType", 415, "Unsupported Media Type")
UnprocessableEntity = _http_error("UnprocessableEntity", 422, "Unprocessable Entity")
TooManyRequests = _http_error("TooManyRequests", 429, "Too Many Requests")
InternalServerError = _http_error("InternalServerError", 500, "Internal Server Error")
ServiceUnavailable = _http_error("ServiceUnavailable", 503, "Service Unavailable")


class RequestValidationError(HTTPException):
    """422 whose detail is a list of ``{"loc": [...], "msg": ..., "type": ...}``."""

    status_code = 422

    def __init__(self, errors: list[dict[str, Any]], body: Any = None) -> None:
        super().__init__(422, list(errors))
        self.errors = self.detail
        self.body = body


class ResponseValidationError(Exception):
    """A handler returned a value that does not match its declared response type."""

    def __init__(self, route: str, message: str) -> None:
        super().__init__(f"response of {route} does not match its declared type: {message}")


__all__ = [
    "HTTPException",
    "ApiError",
    "BadRequest",
    "Unauthorized",
    "Forbidden",
    "NotFound",
    "MethodNotAllowed",
    "Conflict",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "UnprocessableEntity",
    "TooManyRequests",
    "InternalServerError",
    "ServiceUnavailable",
    "RequestValidationError",
    "ResponseValidationError",
]
