"""Response classes a handler may return."""

from .http.responses import *  # noqa: F403
from .http.responses import __all__  # noqa: F401
