"""WebSocket broadcast groups.

A connection joins a group with ``await websocket.group_add("room")``; ``await
api.group_send("room", message)`` reaches every member. Without ``BOLT_REDIS_URL`` the
members are this process's connections; with it, messages go through Redis pub/sub and
reach the members on every process and machine. ``group_send`` works from WebSocket
handlers, HTTP handlers, management commands and tasks (``group_send_sync`` where there
is no event loop).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from .._core import GroupHub
from ..conf import redis_prefix, redis_url

#: How long ``group_send_sync`` waits for Redis.
SYNC_TIMEOUT = 5.0

_lock = threading.Lock()
_hub: tuple[int, GroupHub] | None = None


class GroupError(RuntimeError):
    """The group backend (Redis) refused or could not be reached."""


def hub() -> GroupHub:
    """This process's group hub (a forked worker gets its own)."""
    global _hub
    with _lock:
        if _hub is None or _hub[0] != os.getpid():
            _hub = (os.getpid(), GroupHub(redis_url(), redis_prefix()))
        return _hub[1]


def encode(message: Any) -> tuple[str, Any]:
    """str -> a text message, bytes -> binary, anything else -> JSON text."""
    if isinstance(message, str):
        return "text", message
    if isinstance(message, (bytes, bytearray, memoryview)):
        return "bytes", bytes(message)
    return "text", msgspec.json.encode(message).decode()


Start = Callable[[Callable[[str | None], None]], bool]


async def run(start: Start) -> None:
    """Runs a hub operation; waits for Redis when the hub needs it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str | None] = loop.create_future()

    def settle(error: str | None) -> None:
        if not future.done():
            future.set_result(error)

    def done(error: str | None) -> None:  # called from a Redis thread
        try:
            loop.call_soon_threadsafe(settle, error)
        except RuntimeError:
            pass  # the loop has closed

    if start(done):
        return
    error = await future
    if error is not None:
        raise GroupError(error)


def run_sync(start: Start, timeout: float = SYNC_TIMEOUT) -> None:
    finished = threading.Event()
    errors: list[str | None] = []

    def done(error: str | None) -> None:
        errors.append(error)
        finished.set()

    if start(done):
        return
    if not finished.wait(timeout):
        raise GroupError(f"Redis did not answer within {timeout:g}s")
    if errors[0] is not None:
        raise GroupError(errors[0])


async def group_send(group: str, message: Any) -> None:
    """Sends ``message`` (str, bytes, or JSON-encodable) to every member of ``group``."""
    kind, data = encode(message)
    target = hub()
    await run(lambda done: target.send(group, kind, data, done))


def group_send_sync(group: str, message: Any) -> None:
    """``group_send`` for code without an event loop (sync views, commands, tasks)."""
    kind, data = encode(message)
    target = hub()
    run_sync(lambda done: target.send(group, kind, data, done))
