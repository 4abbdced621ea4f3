"""``ApiError``: an HTTP error by status and detail, ``raise ApiError(400, "User not
active")`` (the same class as ``django_bolt.exceptions.HTTPException``)."""

from .http.errors import ApiError, HTTPException

__all__ = ["ApiError", "HTTPException"]
