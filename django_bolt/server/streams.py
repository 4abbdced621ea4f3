"""Files and streamed responses: a ``FileResponse`` is sent by Rust from its path; a
``StreamingResponse`` (or a Django ``StreamingHttpResponse``) is fed chunk by chunk, from
the event loop for async iterators and by the worker threads for sync ones. A stream whose
client reads slowly waits for room without holding a thread: an async one awaits, a sync
one parks until Rust reports room and a worker carries on with it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .._core import Job, StreamWriter
from ..http.rendering import JSON_TYPE
from ..http.request import Request
from ..http.responses import FileResponse, StreamingResponse, encode_chunk
from .connections import install_connections, release_connections, take_thread_connections

logger = logging.getLogger("django_bolt")

_END: Any = object()

#: Answers a job with the error response for an exception (the route's own rules).
Fail = Callable[[Job, Request, BaseException], None]


class StreamPump:
    """Sends files and streams for one process; wakes writers that wait for room."""

    def __init__(self, send_timeout: float = 60.0) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        #: Seconds a client may read nothing before its stream is abandoned.
        self.send_timeout = send_timeout
        #: Hands a callable to the worker threads (the dispatcher's bridge sets it).
        self.defer: Callable[[Callable[[], None]], bool] | None = None
        # Writers waiting for room, and the task of each stream fed from the loop
        # (cancelled when its client goes away).
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._tasks: dict[int, tuple[asyncio.Task[Any], StreamWriter]] = {}
        # Sync feeds: those alive, those parked until their client makes room, and
        # those Rust reported while they were busy (so a report is never lost).
        self._lock = threading.Lock()
        self._feeding: set[int] = set()
        self._parked: dict[int, SyncFeed] = {}
        self._notified: set[int] = set()
        self._sweeping = False

    def on_ready(self, stream_ids: list[int]) -> None:
        """Rust says these streams (or WebSocket channels) have room or were closed."""
        for stream_id in stream_ids:
            with self._lock:
                feed = self._parked.pop(stream_id, None)
                if feed is None and stream_id in self._feeding:
                    self._notified.add(stream_id)
            if feed is not None:
                self._resume(feed)
                continue
            waiter = self._waiters.get(stream_id)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(None)
                continue
            entry = self._tasks.get(stream_id)
            if entry is not None and entry[1].closed:
                entry[0].cancel()  # the client went away while the generator was busy

    async def wait(self, channel_id: int) -> None:
        """Until Rust reports room (or a message) on this stream or channel."""
        assert self.loop is not None
        future = self.loop.create_future()
        self._waiters[channel_id] = future
        try:
            await future
        finally:
            self._waiters.pop(channel_id, None)

    def send(
        self,
        job: Job,
        request: Request,
        result: FileResponse | StreamingResponse,
        fail: Fail,
        name: str,
        *,
        on_loop: bool = True,
    ) -> None:
        """Sends a file or a stream. ``on_loop``: called from the event loop thread (a
        sync iterator then gets its own thread, since it may block)."""
        if isinstance(result, FileResponse):
            self._send_file(job, request, result, fail)
            return
        if result.is_async:
            coro = self._pump_async(job, request, result, fail, name)
            assert self.loop is not None
            if on_loop:
                self.loop.create_task(coro)
            else:
                asyncio.run_coroutine_threadsafe(coro, self.loop)
        elif on_loop:
            # From the event loop: a thread of its own, as a sync iterator may take its
            # time between items (an event stream that sleeps) and must not hold a worker.
            threading.Thread(
                target=self._pump_sync,
                args=(job, request, result, fail, name, False),
                name="bolt-stream",
                daemon=True,
            ).start()
        else:
            self._pump_sync(job, request, result, fail, name, True)

    # -- sync feeds ------------------------------------------------------------------
    def feed(
        self,
        writer: StreamWriter,
        iterator: Iterator[Any],
        finish: Callable[[], None],
        name: str,
        *,
        park: bool = True,
    ) -> None:
        """Feeds ``iterator`` to ``writer`` from this thread. With ``park``, whenever the
        client's buffer is full the feed parks (no thread held) and a worker carries on
        once the client has read, with the feed's context and database connections;
        without, this thread waits for room. ``finish`` runs once it has ended."""
        feed = SyncFeed(self, writer, iterator, finish, name, park)
        with self._lock:
            self._feeding.add(writer.id)
        feed.run()

    def park(self, feed: SyncFeed) -> bool:
        """Parks a feed whose writer is full until Rust reports room; False when a report
        came meanwhile (the caller then tries again at once)."""
        with self._lock:
            sweep = not self._sweeping
            self._sweeping = True
        if sweep and self.loop is not None:
            self.loop.call_soon_threadsafe(self._sweep_parked)
        with self._lock:
            if feed.writer.id in self._notified:
                self._notified.discard(feed.writer.id)
                return False
            feed.parked_at = time.monotonic()
            self._parked[feed.writer.id] = feed
        return True

    def done(self, feed: SyncFeed) -> None:
        with self._lock:
            self._feeding.discard(feed.writer.id)
            self._notified.discard(feed.writer.id)

    def _resume(self, feed: SyncFeed) -> None:
        if self.defer is None or not self.defer(feed.run):
            feed.writer.abort()  # the server is stopping
            feed.end()

    def _sweep_parked(self) -> None:
        """Drops the clients that have read nothing for the send timeout (on the loop)."""
        now = time.monotonic()
        with self._lock:
            expired = [f for f in self._parked.values() if now - f.parked_at >= self.send_timeout]
            for f in expired:
                del self._parked[f.writer.id]
            again = self._sweeping = bool(self._parked)
        for f in expired:
            f.writer.abort()  # logs that the client is dropped
            if self.defer is None or not self.defer(f.end):
                f.end()
        if again and self.loop is not None:
            self.loop.call_later(min(1.0, self.send_timeout / 4), self._sweep_parked)

    def close_parked(self) -> None:
        """At shutdown: the streams still waiting for their clients are dropped and ended
        (their iterators closed, Django's request_finished sent)."""
        with self._lock:
            parked = list(self._parked.values())
            self._parked.clear()
        for f in parked:
            f.writer.abort()
            f.end()

    @staticmethod
    def _send_file(job: Job, request: Request, result: FileResponse, fail: Fail) -> None:
        if result.path is None:
            job.respond(404, b'{"detail":"File not found"}', JSON_TYPE, None)
            return
        try:
            job.respond_file(
                result.path,
                result.status_code,
                result.media_type,
                result.filename,
                result.disposition,
                result.header_list(),
            )
        except (FileNotFoundError, IsADirectoryError):
            job.respond(404, b'{"detail":"File not found"}', JSON_TYPE, None)
        except PermissionError:
            job.respond(403, b'{"detail":"Forbidden"}', JSON_TYPE, None)
        except Exception as exc:
            fail(job, request, exc)

    @staticmethod
    def _headers(result: StreamingResponse, first: Any) -> list[tuple[str, str]]:
        headers = result.header_list()
        media = result.media_type
        if media is None:
            if isinstance(first, dict):
                media = "text/event-stream"
            elif isinstance(first, str):
                media = "text/plain; charset=utf-8"
            else:
                media = "application/octet-stream"
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("content-type", media))
        if media.startswith("text/event-stream"):
            headers.append(("cache-control", "no-cache"))
            headers.append(("x-accel-buffering", "no"))
        return headers

    async def _pump_async(
        self, job: Job, request: Request, result: StreamingResponse, fail: Fail, name: str
    ) -> None:
        agen = result.content.__aiter__()
        try:
            try:
                first = await agen.__anext__()
            except StopAsyncIteration:
                first = _END
        except BaseException as exc:
            fail(job, request, exc)
            await _aclose(agen)
            return
        writer = job.start_stream(result.status_code, self._headers(result, first))
        task = asyncio.current_task()
        assert task is not None
        self._tasks[writer.id] = (task, writer)
        try:
            item = first
            while item is not _END:
                if not await self._write(writer, encode_chunk(item)):
                    break  # the client went away
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    break
        except asyncio.CancelledError:
            pass  # client gone while the generator was waiting
        except Exception:
            logger.exception("streamed response of %s failed", name)
            writer.fail()  # the client sees a broken response, not a short complete one
        finally:
            self._tasks.pop(writer.id, None)
            writer.close()
            await _aclose(agen)
            request.close()

    async def _write(self, writer: StreamWriter, data: bytes) -> bool:
        while True:
            state = writer.send(data)
            if state == 0:
                return True
            if state == 2:
                return False
            try:
                await asyncio.wait_for(self.wait(writer.id), self.send_timeout)
            except TimeoutError:
                writer.abort()  # the client reads nothing: drop it
                return False

    def _pump_sync(
        self,
        job: Job,
        request: Request,
        result: StreamingResponse,
        fail: Fail,
        name: str,
        park: bool,
    ) -> None:
        iterator = iter(result.content)
        try:
            first = next(iterator, _END)
            writer = job.start_stream(result.status_code, self._headers(result, first))
        except Exception as exc:
            fail(job, request, exc)
            _close(iterator)
            request.close()
            return

        def finish() -> None:
            _close(iterator)
            request.close()

        rest = iterator if first is _END else _prepend(first, iterator)
        self.feed(writer, rest, finish, name, park=park)


class SyncFeed:
    """One sync iterator fed to its stream a chunk at a time. Parked, it holds no thread:
    it keeps the context it started in and the database connections it was using, and
    whichever worker resumes it runs it with them (Django's connections are per thread,
    and a query's cursor may be open across chunks)."""

    __slots__ = (
        "pump",
        "writer",
        "iterator",
        "finish",
        "name",
        "parks",
        "pending",
        "parked_at",
        "context",
        "connections",
        "travelled",
    )

    def __init__(
        self,
        pump: StreamPump,
        writer: StreamWriter,
        iterator: Iterator[Any],
        finish: Callable[[], None],
        name: str,
        parks: bool,
    ) -> None:
        self.pump = pump
        self.writer = writer
        self.iterator = iterator
        self.finish = finish
        self.name = name
        self.parks = parks
        self.pending: bytes | None = None  # a chunk the client had no room for yet
        self.parked_at = 0.0
        self.context = contextvars.copy_context()
        # The connections it carries while parked, and whether it ever left its thread.
        self.connections: dict[str, Any] = {}
        self.travelled = False

    def run(self) -> None:
        """Feeds until the stream ends or parks, on the thread that calls it. Once the feed
        has travelled, it runs with its own connections in place of this thread's."""
        ended = True
        try:
            if self.travelled:
                with self._connections_in_place():
                    ended = self._step()
            else:
                ended = self._step()
        finally:
            if ended:
                self._ended()

    def _step(self) -> bool:
        ended = True
        try:
            ended = self.context.run(self._feed)
            return ended
        finally:
            if ended:
                self._close_stream()

    @contextlib.contextmanager
    def _connections_in_place(self) -> Iterator[None]:
        """The feed's connections are this thread's meanwhile; then the thread's own come
        back and the feed keeps what it used (new connections included)."""
        own = install_connections(self.connections)
        try:
            yield
        finally:
            self.connections = _carry(take_thread_connections())
            install_connections(own)

    def _feed(self) -> bool:
        """True once the stream has ended, False when it parked."""
        writer = self.writer
        try:
            while True:
                data = self.pending
                if data is None:
                    item = next(self.iterator, _END)
                    if item is _END:
                        return True
                    data = self.pending = encode_chunk(item)
                if not self.parks:
                    if not writer.write(data):
                        return True  # the client went away, or read nothing in time
                    self.pending = None
                    continue
                state = writer.send(data)
                if state == 1:
                    if self.pump.park(self):
                        if not self.travelled:
                            # Parked on the thread it started on: it takes that thread's
                            # connections along (the thread opens new ones when it needs).
                            self.travelled = True
                            self.connections = _carry(take_thread_connections())
                        return False  # a worker carries on when the client has read
                    continue
                self.pending = None
                if state == 2:
                    return True  # the client went away: stop producing
        except Exception:
            logger.exception("streamed response of %s failed", self.name)
            writer.fail()  # the client sees a broken response, not a short complete one
            return True

    def _close_stream(self) -> None:
        try:
            self.writer.close()
            self.context.run(self.finish)
        except Exception:
            logger.exception("closing the stream of %s failed", self.name)

    def end(self) -> None:
        """Ends a parked feed from outside any run (its client gone, shutdown)."""
        try:
            with self._connections_in_place():
                self._close_stream()
        finally:
            self._ended()

    def _ended(self) -> None:
        release_connections(self.connections)
        self.connections = {}
        self.pump.done(self)


def _carry(connections: dict[str, Any]) -> dict[str, Any]:
    """Connections a parked feed takes along: allowed to be used from another thread."""
    for conn in connections.values():
        if not conn.allow_thread_sharing:
            conn.inc_thread_sharing()
    return connections


def _prepend(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


async def _aclose(agen: Any) -> None:
    close = getattr(agen, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception:
            logger.exception("closing a streamed response's generator failed")


def _close(iterator: Any) -> None:
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            logger.exception("closing a streamed response's iterator failed")
