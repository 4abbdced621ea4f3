"""The request object handlers receive."""

from .http.request import Headers, Request, State

__all__ = ["Request", "Headers", "State"]
