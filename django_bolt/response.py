"""Alias of :mod:`django_bolt.responses` (both spellings appear in the documentation)."""

from .responses import *  # noqa: F403
from .responses import __all__  # noqa: F401
