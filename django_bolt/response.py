"""Alias of :mod:`django_bolt.responses` (both spellings appear in the documentation)."""

from .http.responses import *  # noqa: F403
from .http.responses import __all__  # noqa: F401
