"""The Python half of the bridge: runs route plans for the jobs Rust hands over.

* Async handlers run on one asyncio loop per process. The loop watches the bridge's
  eventfd and drains every queued job in one go. Each coroutine is first stepped
  inline; one that finishes without suspending is answered at once (no task, no loop
  round trip); one that suspends continues as a task.
* Sync handlers and the Django application run on worker threads that wait in Rust
  with the GIL released.

The ``Dispatcher`` is the ``BridgeHost`` of ``_core.pyi``: Rust calls its ``run_slow``,
``suspended``, ``finish`` and ``fail`` for whatever the Rust fast path does not finish.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from asgiref.sync import sync_to_async

from .._core import DJANGO_FALLBACK, Bridge, Job
from ..contrib.sessions import middleware as sessions
from ..http.rendering import INTERNAL_ERROR, JSON_TYPE, Rendered, as_django_response
from ..http.request import Request
from ..http.responses import FileResponse, StreamingResponse
from ..routing.orm import is_lazy_orm
from ..routing.plan import RoutePlan
from ..websocket.asgi import ASGIWebSocket
from ..websocket.connection import WebSocket, WebSocketDisconnect, WebSocketState
from . import middleware_chain
from .connections import aclose_old, close_old, close_thread
from .streams import StreamPump

logger = logging.getLogger("django_bolt")

_SPECIAL = (StreamingResponse, FileResponse)


def _render_then_close(plan: RoutePlan, result: Any) -> Rendered:
    """Renders in the ORM's thread, then closes connections past their CONN_MAX_AGE as
    Django does at the end of a request."""
    try:
        return plan.render(result)
    finally:
        close_old()


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
    """Runs the site's route plans (indexed by route id) and the Django application."""

    def __init__(
        self,
        plans: list[RoutePlan],
        *,
        threads: int = 2,
        django_app: Any = None,
        timeout: float = 0.0,
    ) -> None:
        self.plans = plans
        self.threads = max(1, threads)
        # Seconds a handler gets to answer: async ones are then cancelled, sync ones
        # reported as stuck and their thread replaced (Rust has answered 504 by then).
        self.timeout = timeout
        self._pool_lock = threading.Lock()
        self._alive = 0
        self._stuck = 0
        self._busy: dict[threading.Thread, list[Any]] = {}
        # Suspended async handlers and when their time is up; those the sweep cancelled.
        self._deadlines: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._sweep_every = min(1.0, timeout / 4) if timeout > 0 else 1.0
        self.django_app = django_app  # the project's Django application, for paths no route owns
        self.bridge = Bridge()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.streams = StreamPump()
        self.streams.defer = self.bridge.defer
        self._workers: list[threading.Thread] = []
        self._base_context = contextvars.copy_context()
        self.fast_plans = [plan.fast_plan() for plan in plans]
        # The project's ASGI application, for WebSockets no route owns (Channels).
        self.asgi_application: Any = None

    # -- lifecycle -----------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = self.streams.loop = loop
        loop.add_reader(self.bridge.fileno(), self._on_ready)
        for _ in range(self.threads):
            self._add_worker()
        if self.timeout > 0:
            threading.Thread(target=self._watch_workers, name="bolt-watchdog", daemon=True).start()
            loop.call_later(self._sweep_every, self._sweep)

    def _add_worker(self) -> None:
        with self._pool_lock:
            self._alive += 1
            t = threading.Thread(
                target=self._worker, name=f"bolt-worker-{len(self._workers)}", daemon=True
            )
            self._workers.append(t)
        t.start()

    def close(self, timeout: float = 5.0) -> None:
        self.streams.close_parked()
        self.bridge.close()
        if self.loop is not None and not self.loop.is_closed():
            try:
                self.loop.remove_reader(self.bridge.fileno())
            except (RuntimeError, ValueError):
                pass
        for t in self._workers:
            t.join(timeout)
        self._workers.clear()

    # -- the BridgeHost callbacks (async handlers, on the event loop) ----------------
    def _on_ready(self) -> None:
        # Rust runs each job's success path; it calls back into run_slow / suspended /
        # finish / fail below for everything else.
        self.bridge.run_ready(self.fast_plans, self)
        self.streams.on_ready(self.bridge.take_ready_streams())

    def run_slow(self, job: Job) -> None:
        self._base_context.copy().run(self._run_async_job, job)

    def suspended(
        self,
        job: Job,
        coro: Any,
        yielded: Any,
        context: contextvars.Context,
        request: Request | None = None,
    ) -> None:
        assert self.loop is not None
        request = request or Request(job)
        self.loop.create_task(self._continue(job, request, coro, yielded), context=context)

    def finish(self, job: Job, result: Any, request: Request | None = None) -> None:
        self._finish(job, request or Request(job), self.plans[job.route_id], result)

    def fail(
        self,
        job: Job,
        exc: BaseException,
        context: contextvars.Context,
        request: Request | None = None,
    ) -> None:
        context.run(self._fail, job, request or Request(job), exc)

    def _run_async_job(self, job: Job) -> None:
        route_id = job.route_id
        assert self.loop is not None
        if route_id == DJANGO_FALLBACK:  # a WebSocket for the project's ASGI application
            self.loop.create_task(self._run_asgi_websocket(job))
            return
        plan = self.plans[route_id]
        request = Request(job)
        if plan.django_chain is not None:
            self.loop.create_task(self._through_django_async(job, request, plan))
            return
        if job.is_websocket:
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
            self._fail(job, request, exc)
            return
        self.loop.create_task(self._continue(job, request, coro, yielded))

    async def _continue(self, job: Job, request: Request, coro: Any, yielded: Any) -> None:
        task = asyncio.current_task() if self.timeout > 0 else None
        if task is not None:
            self._deadlines[task] = time.monotonic() + self.timeout
        try:
            result = await _Started(coro, yielded)
        except BaseException as exc:
            if task is not None and task in self._expired:  # cancelled by the sweep
                self._timed_out(job, request)
                return
            self._fail(job, request, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            self._finish(job, request, self.plans[job.route_id], result)
        finally:
            if task is not None:
                self._deadlines.pop(task, None)
                self._expired.discard(task)
            # The handler suspended, so it may have used the database through
            # sync_to_async: close connections past their CONN_MAX_AGE as Django does
            # at the end of a request.
            await aclose_old()

    def _sweep(self) -> None:
        """Cancels the async handlers past the timeout (Rust has answered 504 by then).
        One periodic sweep rather than a timer per request: a request costs a dict entry."""
        now = time.monotonic()
        for task, deadline in list(self._deadlines.items()):
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        if self.loop is not None and not self.bridge.closed:
            self.loop.call_later(self._sweep_every, self._sweep)

    def _finish(self, job: Job, request: Request, plan: RoutePlan, result: Any) -> None:
        if isinstance(result, _SPECIAL):
            self.streams.send(job, request, result, self._fail, plan.name)
            return
        if is_lazy_orm(result):
            assert self.loop is not None
            self.loop.create_task(self._finish_in_thread(job, request, plan, result))
            return
        try:
            rendered = plan.render(result)
        except BaseException as exc:
            self._fail(job, request, exc)
            return
        self._deliver(job, request, rendered)

    async def _finish_in_thread(
        self, job: Job, request: Request, plan: RoutePlan, result: Any
    ) -> None:
        """Renders a result that reads the database when rendered (a QuerySet, model
        instances) in the thread async handlers use for the ORM, off the event loop."""
        try:
            rendered = await sync_to_async(_render_then_close, thread_sensitive=True)(plan, result)
        except BaseException as exc:
            self._fail(job, request, exc)
            return
        self._deliver(job, request, rendered)

    def _timed_out(self, job: Job, request: Request) -> None:
        logger.warning(
            "%s %s: %s cancelled after %g seconds without an answer",
            job.method,
            job.path,
            self._name(job),
            self.timeout,
        )
        if not job.answered:  # as Rust words it
            body = b'{"detail":"No answer within %s seconds"}' % f"{self.timeout:g}".encode()
            self._send(job, request, 504, body, JSON_TYPE, None)
        else:
            request.close()

    def _deliver(self, job: Job, request: Request, rendered: Rendered) -> None:
        status, body, content_type, headers = rendered
        if request.loaded_session is not None:
            assert self.loop is not None
            self.loop.create_task(
                self._respond_with_session(job, request, status, body, content_type, headers)
            )
            return
        self._send(job, request, status, body, content_type, headers)

    def _send(
        self,
        job: Job,
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
            logger.error("the response of %s cannot be sent: %s", self._name(job), exc)
            if not job.answered:
                job.respond(500, INTERNAL_ERROR, JSON_TYPE, None)
        finally:
            request.close()

    def _name(self, job: Job) -> str:
        route_id = job.route_id
        return self.plans[route_id].name if 0 <= route_id < len(self.plans) else "?"

    async def _respond_with_session(
        self,
        job: Job,
        request: Request,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | None,
    ) -> None:
        try:
            extra = await sessions.finish_async(request, status)
        except Exception as exc:
            self._fail(job, request, exc)
            return
        self._send(job, request, status, body, content_type, (headers or []) + extra)

    def _fail(self, job: Job, request: Request, exc: BaseException) -> None:
        status, body, content_type, headers = self.plans[job.route_id].error(exc, request)
        if not job.answered:
            self._send(job, request, status, body, content_type, headers)
        else:
            request.close()

    # -- sync handlers and Django on worker threads -----------------------------------
    def _worker(self) -> None:
        bridge = self.bridge
        me = threading.current_thread()
        while True:
            job = bridge.next_blocking(0.5)
            if job is None:
                if bridge.closed:
                    close_thread()
                    return
                continue
            if not isinstance(job, Job):
                try:
                    job()  # a streamed response carried on (see StreamPump.feed)
                except BaseException:  # never let a worker die
                    logger.exception("unhandled error while streaming a response")
                continue
            self._busy[me] = [time.monotonic(), job, False]
            try:
                if job.route_id == DJANGO_FALLBACK:
                    self._run_django(job)
                else:
                    self.run_sync_job(job)
            except BaseException:  # never let a worker die
                logger.exception("unhandled error while answering %s %s", job.method, job.path)
                if not job.answered:
                    job.respond(500, INTERNAL_ERROR, JSON_TYPE, None)
            finally:
                was_stuck = self._busy.pop(me)[2]
            with self._pool_lock:
                if was_stuck:
                    self._stuck -= 1
                # More threads than wanted once the stuck ones are counted out: one of
                # them (this one) leaves.
                leaving = self._alive - self._stuck > self.threads
                if leaving:
                    self._alive -= 1
            if leaving:
                close_thread()
                return

    def _watch_workers(self) -> None:
        """Reports a sync handler or Django view still running past the timeout (its
        client got 504 from Rust) and starts a thread in its place, so the pool keeps
        serving; the pool shrinks back once the stuck one returns."""
        while not self.bridge.closed:
            time.sleep(self._sweep_every)
            now = time.monotonic()
            for entry in list(self._busy.values()):
                started, job, reported = entry
                if reported or now - started < self.timeout:
                    continue
                entry[2] = True
                with self._pool_lock:
                    self._stuck += 1
                    room = self._alive < self.threads * 4
                logger.warning(
                    "%s %s: %s has run %.0f seconds and is stuck; %s",
                    job.method,
                    job.path,
                    "Django" if job.route_id == DJANGO_FALLBACK else self._name(job),
                    now - started,
                    "another thread takes its place"
                    if room
                    else f"no thread added ({self.threads * 4} are running)",
                )
                if room:
                    self._add_worker()

    def _run_django(self, job: Job) -> None:
        if self.django_app is None:
            job.respond(404, b'{"detail":"Not Found"}', JSON_TYPE, None)
        else:
            self.django_app.handle(job, self.streams)

    def run_sync_job(self, job: Job) -> None:
        from django.core import signals

        plan = self.plans[job.route_id]
        request = Request(job)
        signals.request_started.send(sender=Dispatcher)
        streamed = False
        try:
            if plan.django_chain is not None:
                response = plan.django_chain.run_sync(request, self._django_call(plan))
                self._send_django(job, request, plan, response, on_loop=False)
                return
            answer = plan.run_sync(request)
            if isinstance(answer, tuple):
                self._send(job, request, *answer)
            else:
                # A stream closes the request itself once it has ended (it may park and
                # end on another thread).
                streamed = not isinstance(answer, FileResponse)
                self.streams.send(job, request, answer, self._fail, plan.name, on_loop=False)
        finally:
            if not streamed:
                request.close()
            signals.request_finished.send(sender=Dispatcher)

    # -- WebSockets --------------------------------------------------------------------
    async def _run_websocket(self, job: Job, request: Request, plan: RoutePlan) -> None:
        websocket = WebSocket(request, self.streams.wait)
        request.websocket = websocket
        try:
            await plan.call(request)
        except WebSocketDisconnect:
            pass
        except BaseException as exc:
            if websocket.state is WebSocketState.CONNECTING:
                # Refused before accept(): an HTTP answer (401, 403, 422, 500...).
                self._fail(job, request, exc)
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
            # Returned without closing (or without accepting): a normal close.
            await websocket.close(1000)
        finally:
            await aclose_old()

    async def _run_asgi_websocket(self, job: Job) -> None:
        websocket = WebSocket(Request(job), self.streams.wait)
        try:
            await ASGIWebSocket(self.asgi_application, job, websocket).run()
        finally:
            await aclose_old()

    # -- Django middleware around API routes ------------------------------------------
    @staticmethod
    def _django_call(plan: RoutePlan) -> Callable[[Request], Any]:
        """The innermost step of the middleware chain: the route run to its answer, as
        an HttpResponse (files and streams stand in as placeholders)."""

        def as_response(result: Any) -> Any:
            if isinstance(result, _SPECIAL):
                return middleware_chain.special_placeholder(result)
            return as_django_response(*plan.render(result))

        def failed(request: Request, exc: Exception) -> Any:
            return as_django_response(*plan.error(exc, request))

        if plan.is_async:

            async def call_async(request: Request) -> Any:
                try:
                    return as_response(await plan.call(request))
                except Exception as exc:
                    return failed(request, exc)

            return call_async

        def call_sync(request: Request) -> Any:
            try:
                return as_response(plan.call(request))
            except Exception as exc:
                return failed(request, exc)

        return call_sync

    async def _through_django_async(self, job: Job, request: Request, plan: RoutePlan) -> None:
        try:
            response = await plan.django_chain.run_async(request, self._django_call(plan))
        except BaseException as exc:
            self._fail(job, request, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        finally:
            await aclose_old()
        self._send_django(job, request, plan, response)

    def _send_django(
        self, job: Job, request: Request, plan: RoutePlan, response: Any, *, on_loop: bool = True
    ) -> None:
        special = middleware_chain.special_of(response)
        headers = middleware_chain.response_headers(response)
        if special is not None:
            for name, value in headers:
                lower = name.lower()
                if lower == "set-cookie":
                    special._cookies.append(value)
                elif lower not in ("content-type", "content-length"):
                    special.headers[lower] = value
            self.streams.send(job, request, special, self._fail, plan.name, on_loop=on_loop)
            return
        if getattr(response, "streaming", False):
            content = b"".join(response)  # streamed by a middleware: small by construction
        else:
            content = response.content
        self._send(job, request, response.status_code, content, None, headers)
