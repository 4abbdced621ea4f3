"""HTTP errors a handler may raise, and ``exception_handler`` (the default handling)."""

from .http.error_response import exception_handler
from .http.errors import *  # noqa: F403
from .http.errors import __all__ as _errors

__all__ = ["exception_handler", *_errors]
