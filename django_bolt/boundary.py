"""What crosses between Python and the compiled ``_core``, typed: the route table and the
fast-path arguments Python hands to Rust, and the callbacks Rust makes into Python.

The argument records are NamedTuples: Rust reads them by position (no attribute lookups
per request), Python builds and reads them by name.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol


class RouteEntry(NamedTuple):
    """One row of the router table given to ``Server`` and ``TestApp``."""

    method: str  # an HTTP method, or "WEBSOCKET"
    path: str  # the full path, ``/api/items/{item_id}``
    route_id: int  # index into the site's plans
    sync: bool  # the handler is sync: it runs on a worker thread
    policy: Any  # the route's compiled ``RoutePolicy``, or None


class ValueArg(NamedTuple):
    """A path, query or header value the fast path reads and coerces in Rust."""

    tag: Literal["value"]
    name: str  # the handler's argument name
    source: Literal["path", "query", "header"]
    key: str  # the name on the wire
    coerce: Literal["str", "int", "float", "bool", "convert"]  # "convert" calls ``convert``
    required: bool
    default: Any
    empty_is_none: bool  # an empty query value becomes None (``X | None``)
    convert: Callable[[str], Any]  # Python's coercion, also used for "convert"


class RequestArg(NamedTuple):
    """The ``Request`` itself, built with ``factory(job)``."""

    tag: Literal["request"]
    name: str
    factory: Callable[[Any], Any]


class BodyArg(NamedTuple):
    """The JSON body, decoded by ``decode`` (a msgspec decoder's ``decode``)."""

    tag: Literal["body"]
    name: str
    decode: Callable[[bytes], Any]
    required: bool
    default: Any


FastArg = ValueArg | RequestArg | BodyArg


class BridgeHost(Protocol):
    """The callbacks ``Bridge.run_ready`` makes for jobs the fast path does not finish."""

    def run_slow(self, job: Any) -> None:
        """The whole job in Python (no fast plan, or the fast path declined it)."""

    def suspended(
        self,
        job: Any,
        coro: Any,
        yielded: Any,
        context: contextvars.Context,
        request: Any = None,
    ) -> None:
        """The handler's coroutine suspended: continue it as a task."""

    def finish(self, job: Any, result: Any, request: Any = None) -> None:
        """The handler returned something the fast path does not encode itself."""

    def fail(
        self, job: Any, exc: BaseException, context: contextvars.Context, request: Any = None
    ) -> None:
        """The handler (or extraction) raised."""
