"""Turning exceptions into responses.

The public functions return ``(status, headers, body)`` as the documentation shows;
``error_response`` is what the server uses and returns
``(status, body, content_type, headers)``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .encoding import json_encode
from .errors import HTTPException, RequestValidationError
from .rendering import INTERNAL_ERROR, JSON_TYPE, render_result
from .responses import Response

logger = logging.getLogger("django_bolt")


def _json_headers(extra: dict[str, str] | None = None) -> list[tuple[str, str]]:
    headers = [("content-type", JSON_TYPE)]
    if extra:
        headers.extend((str(k), str(v)) for k, v in extra.items())
    return headers


def http_exception_handler(exc: HTTPException) -> tuple[int, list[tuple[str, str]], bytes]:
    payload: dict[str, Any] = {"detail": exc.detail}
    if exc.extra:
        payload.update({k: v for k, v in exc.extra.items() if k != "detail"})
    return exc.status_code, _json_headers(exc.headers), json_encode(payload)


def request_validation_error_handler(
    exc: RequestValidationError,
) -> tuple[int, list[tuple[str, str]], bytes]:
    return 422, _json_headers(exc.headers), json_encode({"detail": exc.errors})


def _wants_html(request: Any) -> bool:
    if request is None:
        return False
    try:
        accept = request.headers.get("accept", "")
    except Exception:
        return False
    return "text/html" in accept


def generic_exception_handler(
    exc: BaseException, debug: bool = False, request: Any = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """500 for an unexpected exception: JSON without internals, or with ``debug`` Django's
    technical error page (HTML) — always for direct calls, for requests only when the
    client accepts HTML; otherwise a JSON body carrying the exception and traceback."""
    if debug:
        if request is None or _wants_html(request):
            html = _technical_500(exc, request)
            if html is not None:
                return 500, [("content-type", "text/html; charset=utf-8")], html
        import traceback

        payload = {
            "detail": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
        }
        return 500, _json_headers(), json_encode(payload)
    return 500, _json_headers(), INTERNAL_ERROR


def as_django_request(request: Any) -> Any:
    """The request as a Django ``HttpRequest`` (the one Django built, or one built from
    the request: method, path, headers, body), with its user when known without a
    query (already loaded, or a token's)."""
    if request is None:
        return None
    django_request = getattr(request, "django_request", request)
    user = getattr(request, "_user", None)
    if user is None and (getattr(request, "context", None) or {}).get("auth_backend") == "jwt":
        user = request.user  # the token's user, known without a query
    if user is not None and not hasattr(django_request, "user"):
        django_request.user = user
    return django_request


def _technical_500(exc: BaseException, request: Any) -> bytes | None:
    try:
        from django.test import RequestFactory
        from django.views.debug import technical_500_response

        django_request = as_django_request(request) or RequestFactory().get("/")
        response = technical_500_response(django_request, type(exc), exc, exc.__traceback__)
        return response.content
    except Exception:
        logger.exception("could not render the debug error page")
        return None


def _django_exception(exc: BaseException) -> HTTPException | None:
    from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, SuspiciousOperation
    from django.http import Http404

    if isinstance(exc, (Http404, ObjectDoesNotExist)):
        return HTTPException(404, "Not Found")
    if isinstance(exc, PermissionDenied):
        return HTTPException(403, "Forbidden")
    if isinstance(exc, SuspiciousOperation):
        return HTTPException(400, "Bad Request")
    return None


def handle_exception(
    exc: BaseException, debug: bool = False, request: Any = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The universal handler: HTTP errors keep their status, validation errors are 422,
    Django's Http404 / DoesNotExist / PermissionDenied map to 404 / 404 / 403, anything
    else is a 500."""
    if isinstance(exc, RequestValidationError):
        return request_validation_error_handler(exc)
    if isinstance(exc, HTTPException):
        return http_exception_handler(exc)
    mapped = _django_exception(exc)
    if mapped is not None:
        return http_exception_handler(mapped)
    return generic_exception_handler(exc, debug=debug, request=request)


#: Seconds during which a failure like one already logged is counted, not logged again.
REPEAT_WINDOW = 60.0


class RepeatedFailures:
    """Remembers which failures were logged lately: the same exception type raised at
    the same place by the same route is logged with its traceback once per window; the
    repeats are counted and reported in one line when the next window opens."""

    def __init__(self, window: float = REPEAT_WINDOW, size: int = 1024) -> None:
        self.window, self.size = window, size
        self._lock = threading.Lock()
        self._seen: dict[tuple[Any, ...], list[float]] = {}

    @staticmethod
    def key(exc: BaseException, route: str) -> tuple[Any, ...]:
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else None
        return (route, type(exc).__qualname__, where)

    def first(self, key: tuple[Any, ...]) -> tuple[bool, int]:
        """(log it?, repeats of the window that just ended)."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is not None and now - seen[0] < self.window:
                seen[1] += 1
                return False, 0
            if len(self._seen) >= self.size:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = [now, 0]
            return True, int(seen[1]) if seen is not None else 0

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


REPEATS = RepeatedFailures()


def report_server_error(exc: BaseException, request: Any, route: str) -> None:
    """Tells the project of an unhandled exception as Django's own handler does: the
    ``got_request_exception`` signal (Sentry's Django integration) and an error on the
    ``django.request`` logger with the request attached (``mail_admins``). A failure
    repeating one logged in the last minute is not logged again (the signal is still
    sent); how many there were is logged once the minute is over."""
    from django.core.signals import got_request_exception

    exc_info = (type(exc), exc, exc.__traceback__)
    log_it, repeats = REPEATS.first(RepeatedFailures.key(exc, route))
    if repeats:
        logger.warning(
            "handler %s failed %d more times with %s at the same place (not logged again)",
            route,
            repeats,
            type(exc).__name__,
        )
    if log_it:
        logger.error("handler %s failed: %s", route, exc, exc_info=exc_info)
    try:
        django_request = as_django_request(request)
        got_request_exception.send(sender=None, request=django_request)
        if not log_it:
            return
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            getattr(django_request, "path", route),
            extra={"status_code": 500, "request": django_request},
            exc_info=exc_info,
        )
    except Exception:
        logger.exception("reporting the failure of %s failed", route)


def error_response(
    exc: BaseException,
    request: Any,
    *,
    handler: Any = None,
    route: str = "?",
    debug: bool = False,
) -> tuple[int, bytes, str | None, list[tuple[str, str]] | None]:
    """The answer to ``exc`` raised while serving ``route``: the API's custom exception
    ``handler`` first (its result rendered like a handler's), else ``handle_exception``.
    Server errors are reported as Django reports them (``report_server_error``)."""
    if handler is not None and isinstance(exc, Exception):
        try:
            result = handler(exc, request)
        except Exception as inner:
            exc = inner
        else:
            if result is not None:
                try:
                    return render_result(result)
                except Exception as inner:
                    exc = inner
    status, headers, body = handle_exception(exc, debug=debug, request=request)
    if status >= 500:
        report_server_error(exc, request, route)
    content_type = headers[0][1]
    return status, body, content_type, headers[1:] or None


def exception_handler(exc: BaseException, request: Any = None) -> Any:
    """The default handling as a handler-style result, for custom handlers that deal
    with some exceptions themselves and leave the rest to the default::

        def custom_exception_handler(exc, request):
            if isinstance(exc, PaymentError):
                return {"error": "payment_failed"}, 402
            return exception_handler(exc, request)
    """
    from django.conf import settings

    status, headers, body = handle_exception(exc, debug=settings.DEBUG, request=request)
    if status >= 500:
        report_server_error(exc, request, type(exc).__name__)
    media = headers[0][1] if headers and headers[0][0] == "content-type" else None
    return Response(body, status, dict(headers[1:]), media_type=media)


__all__ = [
    "exception_handler",
    "error_response",
    "http_exception_handler",
    "request_validation_error_handler",
    "generic_exception_handler",
    "handle_exception",
]
