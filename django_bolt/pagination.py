"""Pagination styles and ``@paginate``."""

from .routing.pagination import *  # noqa: F403
from .routing.pagination import __all__  # noqa: F401
