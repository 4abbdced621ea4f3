"""Files and streamed responses: a ``FileResponse`` is sent by Rust from its path; a
``StreamingResponse`` is fed chunk by chunk, from the event loop for async iterators
and from a thread for sync ones, waiting for room when the client reads slowly."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from .._core import Job, StreamWriter
from ..http.rendering import JSON_TYPE
from ..http.request import Request
from ..http.responses import FileResponse, StreamingResponse, encode_chunk

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
        # Writers waiting for room, and the task of each stream fed from the loop
        # (cancelled when its client goes away).
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._tasks: dict[int, tuple[asyncio.Task[Any], StreamWriter]] = {}

    def on_ready(self, stream_ids: list[int]) -> None:
        """Rust says these streams (or WebSocket channels) have room or were closed."""
        for stream_id in stream_ids:
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
            threading.Thread(
                target=self._pump_sync,
                args=(job, request, result, fail, name),
                name="bolt-stream",
                daemon=True,
            ).start()
        else:
            self._pump_sync(job, request, result, fail, name)

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
        self, job: Job, request: Request, result: StreamingResponse, fail: Fail, name: str
    ) -> None:
        iterator = iter(result.content)
        try:
            first = next(iterator, _END)
        except Exception as exc:
            fail(job, request, exc)
            _close(iterator)
            return
        writer = job.start_stream(result.status_code, self._headers(result, first))
        try:
            item = first
            while item is not _END:
                if not writer.write(encode_chunk(item)):
                    break  # the client went away
                item = next(iterator, _END)
        except Exception:
            logger.exception("streamed response of %s failed", name)
        finally:
            writer.close()
            _close(iterator)
            request.close()


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
