"""The Python half of the bridge: runs handlers for the jobs Rust hands over.

* Async handlers run on one asyncio loop per process. The loop watches the bridge's
  eventfd and drains every queued job in one go. Each coroutine is first stepped
  inline; one that finishes without suspending is answered at once (no task, no loop
  round trip); one that suspends continues as a task.
* Sync handlers and the Django fallback run on worker threads that wait in Rust with
  the GIL released.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Generator
from typing import Any

from . import django_middleware, sessions
from ._core import DJANGO_FALLBACK, Bridge
from ._plan import JSON_TYPE, RoutePlan, render_result
from .error_handlers import error_response
from .request import Request
from .responses import FileResponse, StreamingResponse, encode_chunk
from .websocket import WebSocket, WebSocketDisconnect, WebSocketState

_END: Any = object()

logger = logging.getLogger("django_bolt")


class _Started:
    """Awaitable that carries on a coroutine already stepped once outside a task."""

    __slots__ = ("coro", "first")

    def __init__(self, coro: Any, first: Any) -> None:
        self.coro = coro
        self.first = first

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, value = self.coro, self.first
        self.first = None
        while True:
            try:
                sent = yield value
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # forwarded into the handler, like `await`
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value


class Dispatcher:
    def __init__(
        self,
        plans: list[RoutePlan],
        apis: list[Any],
        *,
        debug: bool = False,
        threads: int = 2,
        fallback: Any = None,
    ) -> None:
        self.plans = plans
        self.apis = apis  # route_id -> owning BoltAPI (for its exception handler)
        self.debug = debug
        self.threads = max(1, threads)
        self.fallback = fallback
        self.bridge = Bridge()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._workers: list[threading.Thread] = []
        self._base_context = contextvars.copy_context()
        self.fast_plans = [plan.fast_plan() for plan in plans]
        # Streams fed from the event loop: writers waiting for room, and the task of each
        # stream (cancelled when its client goes away).
        self._stream_waiters: dict[int, asyncio.Future[None]] = {}
        self._stream_tasks: dict[int, tuple[asyncio.Task[Any], Any]] = {}
        # The project's ASGI application, for WebSockets no route owns (Channels).
        self.asgi_application: Any = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        loop.add_reader(self.bridge.fileno(), self._on_ready)
        for i in range(self.threads):
            t = threading.Thread(target=self._worker, name=f"bolt-worker-{i}", daemon=True)
            t.start()
            self._workers.append(t)

    def close(self, timeout: float = 5.0) -> None:
        self.bridge.close()
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.remove_reader(self.bridge.fileno())
            except (RuntimeError, ValueError):
                pass
        for t in self._workers:
            t.join(timeout)
        self._workers.clear()

    # -- async handlers on the event loop ------------------------------------------
    def _on_ready(self) -> None:
        # Rust runs each job's success path; it calls back into run_slow / suspended /
        # finish / fail below for everything else.
        self.bridge.run_ready(self.fast_plans, self)
        for stream_id in self.bridge.take_ready_streams():
            waiter = self._stream_waiters.get(stream_id)
            if waiter is not None:
                if not waiter.done():
                    waiter.set_result(None)
                continue
            entry = self._stream_tasks.get(stream_id)
            if entry is not None and entry[1].closed:
                entry[0].cancel()  # the client went away while the generator was busy

    def run_slow(self, job: Any) -> None:
        self._base_context.copy().run(self._run_async_job, job)

    def suspended(
        self,
        job: Any,
        coro: Any,
        yielded: Any,
        context: contextvars.Context,
        request: Request | None = None,
    ) -> None:
        assert self.loop is not None
        request = request or Request(job)
        self.loop.create_task(
            self._continue(job, request, job.route_id, coro, yielded), context=context
        )

    def finish(self, job: Any, result: Any, request: Request | None = None) -> None:
        self._finish(job, request or Request(job), self.plans[job.route_id], result)

    def fail(
        self,
        job: Any,
        exc: BaseException,
        context: contextvars.Context,
        request: Request | None = None,
    ) -> None:
        context.run(self._fail, job, request or Request(job), job.route_id, exc)

    def _run_async_job(self, job: Any) -> None:
        route_id = job.route_id
        if route_id == DJANGO_FALLBACK:  # a WebSocket for the project's ASGI application
            assert self.loop is not None
            self.loop.create_task(self._run_asgi_websocket(job))
            return
        plan = self.plans[route_id]
        request = Request(job)
        if plan.django_chain is not None:
            assert self.loop is not None
            self.loop.create_task(self._through_django_async(job, request, plan))
            return
        if job.is_websocket:
            assert self.loop is not None
            self.loop.create_task(self._run_websocket(job, request, plan))
            return
        try:
            if plan.is_async:
                coro = plan.call(request)
                yielded = coro.send(None)
            else:  # a sync handler routed to the loop: run it inline
                self._finish(job, request, plan, plan.call(request))
                return
        except StopIteration as stop:
            self._finish(job, request, plan, stop.value)
            return
        except BaseException as exc:
            self._fail(job, request, route_id, exc)
            return
        assert self.loop is not None
        self.loop.create_task(self._continue(job, request, route_id, coro, yielded))

    async def _continue(
        self, job: Any, request: Request, route_id: int, coro: Any, yielded: Any
    ) -> None:
        plan = self.plans[route_id]
        try:
            result = await _Started(coro, yielded)
        except BaseException as exc:
            self._fail(job, request, route_id, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            self._finish(job, request, plan, result)
        finally:
            # The handler suspended, so it may have used the database through
            # sync_to_async: close connections past their CONN_MAX_AGE as Django does
            # at the end of a request.
            await _close_old_connections_async()

    def _finish(self, job: Any, request: Request, plan: RoutePlan, result: Any) -> None:
        if isinstance(result, (StreamingResponse, FileResponse)):
            self._send_special(job, request, job.route_id, result)
            return
        try:
            status, body, content_type, headers = render_result(plan, result)
        except BaseException as exc:
            self._fail(job, request, job.route_id, exc)
            return
        if request.loaded_session is not None:
            assert self.loop is not None
            self.loop.create_task(
                self._respond_with_session(job, request, status, body, content_type, headers)
            )
            return
        self._send(job, request, status, body, content_type, headers)

    def _send(
        self,
        job: Any,
        request: Request,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | None,
    ) -> None:
        """Answers the job. A response that cannot be sent (an invalid header name or
        value from the handler) becomes a logged 500, so the client never waits."""
        try:
            job.respond(status, body, content_type, headers)
        except ValueError as exc:
            route_id = job.route_id
            name = self.plans[route_id].name if 0 <= route_id < len(self.plans) else "?"
            logger.error("the response of %s cannot be sent: %s", name, exc)
            if not job.answered:
                job.respond(500, b'{"detail":"Internal Server Error"}', JSON_TYPE, None)
        finally:
            request.close()

    async def _respond_with_session(
        self,
        job: Any,
        request: Request,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | None,
    ) -> None:
        try:
            extra = await sessions.finish_async(request, status)
        except Exception as exc:
            self._fail(job, request, job.route_id, exc)
            return
        self._send(job, request, status, body, content_type, (headers or []) + extra)

    def _fail(self, job: Any, request: Request, route_id: int, exc: BaseException) -> None:
        api = self.apis[route_id] if 0 <= route_id < len(self.apis) else None
        status, body, content_type, headers = error_response(
            exc, request, api=api, plan=self.plans[route_id], debug=self.debug
        )
        if not job.answered:
            self._send(job, request, status, body, content_type, headers)
        else:
            request.close()

    # -- sync handlers and Django on worker threads -----------------------------------
    def _worker(self) -> None:
        bridge = self.bridge
        while True:
            job = bridge.next_blocking(0.5)
            if job is None:
                if bridge.closed:
                    return
                continue
            try:
                if job.route_id == DJANGO_FALLBACK:
                    self._run_django(job)
                else:
                    self.run_sync_job(job)
            except BaseException:  # never let a worker die
                logger.exception("unhandled error while answering %s %s", job.method, job.path)
                if not job.answered:
                    job.respond(500, b'{"detail":"Internal Server Error"}', JSON_TYPE, None)

    def _run_django(self, job: Any) -> None:
        if self.fallback is None:
            job.respond(404, b'{"detail":"Not Found"}', JSON_TYPE, None)
        else:
            self.fallback.handle(job)

    def run_sync_job(self, job: Any) -> None:
        from django.core import signals

        route_id = job.route_id
        plan = self.plans[route_id]
        request = Request(job)
        signals.request_started.send(sender=Dispatcher)
        if plan.django_chain is not None:
            try:
                response = plan.django_chain.run_sync(request, self._django_call(plan, route_id))
                self._send_django(job, request, route_id, response, on_loop=False)
            finally:
                request.close()
                signals.request_finished.send(sender=Dispatcher)
            return
        try:
            result = plan.call(request)
            if isinstance(result, (StreamingResponse, FileResponse)):
                self._send_special(job, request, route_id, result, on_loop=False)
                return
            status, body, content_type, headers = render_result(plan, result)
            if request.loaded_session is not None:
                headers = (headers or []) + sessions.finish_sync(request, status)
        except Exception as exc:
            self._fail(job, request, route_id, exc)
        else:
            self._send(job, request, status, body, content_type, headers)
        finally:
            request.close()
            signals.request_finished.send(sender=Dispatcher)

    # -- WebSockets --------------------------------------------------------------------
    async def _run_websocket(self, job: Any, request: Request, plan: RoutePlan) -> None:
        websocket = WebSocket(request, self._wait_channel)
        request.websocket = websocket
        try:
            await plan.call(request)
        except WebSocketDisconnect:
            pass
        except BaseException as exc:
            if websocket.state is WebSocketState.CONNECTING:
                # Refused before accept(): an HTTP answer (401, 403, 422, 500...).
                self._fail(job, request, job.route_id, exc)
            else:
                logger.error(
                    "WebSocket handler %s failed",
                    plan.name,
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
                await websocket.close(1011, "internal error")
            if isinstance(exc, (KeyboardInterrupt, SystemExit, asyncio.CancelledError)):
                raise
        else:
            if websocket.state is WebSocketState.CONNECTING:
                await websocket.close(1000)  # returned without accepting
        finally:
            await _close_old_connections_async()

    async def _run_asgi_websocket(self, job: Any) -> None:
        from .asgi_websocket import ASGIWebSocket

        websocket = WebSocket(Request(job), self._wait_channel)
        try:
            await ASGIWebSocket(self.asgi_application, job, websocket).run()
        finally:
            await _close_old_connections_async()

    async def _wait_channel(self, channel_id: int) -> None:
        assert self.loop is not None
        future = self.loop.create_future()
        self._stream_waiters[channel_id] = future
        try:
            await future
        finally:
            self._stream_waiters.pop(channel_id, None)

    # -- Django middleware around API routes ------------------------------------------
    def _django_call(self, plan: RoutePlan, route_id: int) -> Any:
        """The innermost step of the middleware chain: the handler, answered as an
        HttpResponse (files and streams stand in as placeholders)."""
        api = self.apis[route_id]

        def render(request: Request, result: Any) -> Any:
            if isinstance(result, (StreamingResponse, FileResponse)):
                return django_middleware.special_placeholder(result)
            return django_middleware.as_django_response(*render_result(plan, result))

        def failed(request: Request, exc: Exception) -> Any:
            answer = error_response(exc, request, api=api, plan=plan, debug=self.debug)
            return django_middleware.as_django_response(*answer)

        if plan.is_async:

            async def call_async(request: Request) -> Any:
                try:
                    return render(request, await plan.call(request))
                except Exception as exc:
                    return failed(request, exc)

            return call_async

        def call_sync(request: Request) -> Any:
            try:
                return render(request, plan.call(request))
            except Exception as exc:
                return failed(request, exc)

        return call_sync

    async def _through_django_async(self, job: Any, request: Request, plan: RoutePlan) -> None:
        try:
            response = await plan.django_chain.run_async(
                request, self._django_call(plan, job.route_id)
            )
        except BaseException as exc:
            self._fail(job, request, job.route_id, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        finally:
            await _close_old_connections_async()
        self._send_django(job, request, job.route_id, response)

    def _send_django(
        self, job: Any, request: Request, route_id: int, response: Any, *, on_loop: bool = True
    ) -> None:
        special = django_middleware.special_of(response)
        headers = django_middleware.response_headers(response)
        if special is not None:
            for name, value in headers:
                lower = name.lower()
                if lower == "set-cookie":
                    special._cookies.append(value)
                elif lower not in ("content-type", "content-length"):
                    special.headers[lower] = value
            self._send_special(job, request, route_id, special, on_loop=on_loop)
            return
        if getattr(response, "streaming", False):
            content = b"".join(response)  # streamed by a middleware: small by construction
        else:
            content = response.content
        self._send(job, request, response.status_code, content, None, headers)

    # -- files and streams ----------------------------------------------------------
    def _send_special(
        self, job: Any, request: Request, route_id: int, result: Any, *, on_loop: bool = True
    ) -> None:
        if isinstance(result, FileResponse):
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
                self._fail(job, request, route_id, exc)
            return
        if result.is_async:
            coro = self._pump_async(job, request, route_id, result)
            if on_loop:
                assert self.loop is not None
                self.loop.create_task(coro)
            else:
                assert self.loop is not None
                asyncio.run_coroutine_threadsafe(coro, self.loop)
        elif on_loop:
            # A sync iterator may block: feed it from its own thread.
            threading.Thread(
                target=self._pump_sync,
                args=(job, request, route_id, result),
                name="bolt-stream",
                daemon=True,
            ).start()
        else:
            self._pump_sync(job, request, route_id, result)

    @staticmethod
    def _stream_headers(result: StreamingResponse, first: Any) -> list[tuple[str, str]]:
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
        self, job: Any, request: Request, route_id: int, result: StreamingResponse
    ) -> None:
        agen = result.content.__aiter__()
        try:
            try:
                first = await agen.__anext__()
            except StopAsyncIteration:
                first = _END
        except BaseException as exc:
            self._fail(job, request, route_id, exc)
            await _aclose(agen)
            return
        writer = job.start_stream(result.status_code, self._stream_headers(result, first))
        task = asyncio.current_task()
        assert task is not None
        self._stream_tasks[writer.id] = (task, writer)
        try:
            item = first
            while item is not _END:
                if not await self._write_async(writer, encode_chunk(item)):
                    break  # the client went away
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    break
        except asyncio.CancelledError:
            pass  # client gone while the generator was waiting
        except Exception:
            logger.exception("streamed response of %s failed", self.plans[route_id].name)
        finally:
            self._stream_tasks.pop(writer.id, None)
            writer.close()
            await _aclose(agen)
            request.close()

    async def _write_async(self, writer: Any, data: bytes) -> bool:
        while True:
            state = writer.send(data)
            if state == 0:
                return True
            if state == 2:
                return False
            assert self.loop is not None
            waiter = self.loop.create_future()
            self._stream_waiters[writer.id] = waiter
            try:
                await waiter
            finally:
                self._stream_waiters.pop(writer.id, None)

    def _pump_sync(
        self, job: Any, request: Request, route_id: int, result: StreamingResponse
    ) -> None:
        iterator = iter(result.content)
        try:
            first = next(iterator, _END)
        except Exception as exc:
            self._fail(job, request, route_id, exc)
            _close(iterator)
            return
        writer = job.start_stream(result.status_code, self._stream_headers(result, first))
        try:
            item = first
            while item is not _END:
                if not writer.write(encode_chunk(item)):
                    break  # the client went away
                item = next(iterator, _END)
        except Exception:
            logger.exception("streamed response of %s failed", self.plans[route_id].name)
        finally:
            writer.close()
            _close(iterator)
            request.close()


_closing_connections = False


async def _close_old_connections_async() -> None:
    """Django's end-of-request ``close_old_connections`` in the thread async handlers use
    for the database. Handlers that end while one such call is on its way share it, so
    thousands of WebSocket handlers ending together cost a few thread hops, not
    thousands."""
    global _closing_connections
    if _closing_connections:
        return
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    _closing_connections = True
    try:
        await sync_to_async(close_old_connections)()
    except Exception:
        logger.exception("closing old database connections failed")
    finally:
        _closing_connections = False


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
