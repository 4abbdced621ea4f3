"""Turning exceptions into ``(status, headers, body)``, as the documentation shows."""

from .http.error_response import (
    generic_exception_handler,
    handle_exception,
    http_exception_handler,
    request_validation_error_handler,
)

__all__ = [
    "http_exception_handler",
    "request_validation_error_handler",
    "generic_exception_handler",
    "handle_exception",
]
