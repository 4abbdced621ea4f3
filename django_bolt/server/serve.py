"""One serving process: the Rust server on its threads, the asyncio loop on the main
thread, and a clean exit on SIGTERM/SIGINT (stop accepting, finish in-flight requests
within the shutdown timeout, exit 0)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any

from .._core import Server, StaticFiles, use_batch_scheduling
from ..conf import VERSION, ServerConfig, websocket_limit
from ..contrib.static.serving import static_mounts
from ..websocket.asgi import load_application
from .django_app import DjangoApplication
from .listen import Sockets, describe, sd_notify, watchdog_interval
from .logs import LogDrain, set_log_level
from .readiness import probe_database
from .recycle import watch_budget
from .runner import Dispatcher
from .site import Site

logger = logging.getLogger("django_bolt")

#: What ``serve`` returns after SIGHUP when asked to restart in place (see runbolt).
RESTART = -1


def banner(config: ServerConfig, site: Site, where: str, statics: list[StaticFiles]) -> str:
    from django.conf import settings

    served = [
        f"Media files (Rust, per request): {s.prefix}"
        if s.live
        else f"Static files (Rust): {s.prefix} ({len(s)} files)"
        for s in statics
    ]
    lines = [
        f"django_bolt {VERSION} serving {where} "
        f"({config.processes} process{'es' if config.processes > 1 else ''} x "
        f"{config.workers} worker{'s' if config.workers > 1 else ''}, "
        f"{config.threads} threads, debug={'on' if config.debug else 'off'})",
        "API routes (Rust router):",
        site.describe(),
        *served,
        f"Every other path: Django ({getattr(settings, 'ROOT_URLCONF', '?')})",
    ]
    return "\n".join(lines)


def serve(
    config: ServerConfig,
    site: Site,
    *,
    quiet: bool = False,
    ready: Any = None,
    sockets: Sockets | None = None,
    restart_on_hup: bool = False,
    supervised: bool = False,
) -> int:
    """Serves until SIGTERM/SIGINT (or a spent budget). ``sockets`` are the listening
    socket (and metrics) to serve (runbolt opens them before forking); without them,
    this opens its own. ``supervised``: a supervisor tracks readiness and stopping.
    With ``restart_on_hup``, SIGHUP finishes in-flight requests like SIGTERM and returns
    ``RESTART`` (a process without a supervisor restarts in place)."""
    raise_open_file_limit()
    if sockets is None:
        sockets = Sockets.open(config)
    batch = os.environ.get("BOLT_BATCH_SCHED", "1") == "1"
    if batch:
        use_batch_scheduling()
    logs = LogDrain().start()
    try:
        return _serve(
            config,
            site,
            quiet=quiet,
            ready=ready,
            batch=batch,
            sockets=sockets,
            restart_on_hup=restart_on_hup,
            supervised=supervised,
        )
    finally:
        logs.stop()


def _serve(
    config: ServerConfig,
    site: Site,
    *,
    quiet: bool,
    ready: Any,
    batch: bool,
    sockets: Sockets,
    restart_on_hup: bool = False,
    supervised: bool = False,
) -> int:
    listener = sockets.listener
    metrics = sockets.metrics
    metrics_slot = metrics.claim(os.getpid()) if metrics is not None else 0
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    dispatcher = Dispatcher(
        site.plans,
        threads=config.threads,
        django_app=DjangoApplication(multiprocess=config.processes > 1),
        timeout=config.timeout,
    )
    dispatcher.asgi_application = load_application()
    dispatcher.streams.send_timeout = config.send_timeout
    if config.log_level is not None:
        set_log_level(config.log_level)
    dispatcher.start(loop)
    statics = static_mounts()
    server = Server(
        site.table,
        dispatcher.bridge,
        config.server_settings(
            asgi_websockets=dispatcher.asgi_application is not None, batch_scheduling=batch
        ),
        static_files=statics,
        fd=listener.fileno(),
        metrics=metrics,
        metrics_slot=metrics_slot,
        metrics_fd=sockets.metrics_listener.fileno() if sockets.metrics_listener else None,
    )
    ws_limit = websocket_limit(config.ws_max_connections)
    if ws_limit != config.ws_max_connections:
        logger.info(
            "WebSocket connections: at most %d per process (the file descriptor limit "
            "keeps room for HTTP connections, the database and files)",
            ws_limit,
        )
    if not quiet:
        print(
            banner(
                config,
                site,
                describe(listener, tls=bool(config.ssl_certfile), root_path=config.root_path),
                statics,
            ),
            flush=True,
        )
    sd_notify("READY=1")
    if ready is not None:
        ready(server.port)

    stopping = threading.Event()
    restarting = threading.Event()
    keep_watchdog_fed(loop, stopping)
    if metrics is not None:
        probe_database(metrics, metrics_slot, stopping)
        if not supervised:
            metrics.set_started()

    def wait_then_stop_loop() -> None:
        server.wait()
        loop.call_soon_threadsafe(loop.stop)

    waiter = threading.Thread(target=wait_then_stop_loop, name="bolt-wait", daemon=True)
    waiter.start()

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            return
        stopping.set()
        if metrics is not None and not supervised:
            metrics.set_stopping()
        if signum == signal.SIGHUP:
            restarting.set()
            logger.info("received SIGHUP: finishing in-flight requests, then restarting")
            sd_notify("RELOADING=1")
        else:
            logger.info("received %s: finishing in-flight requests", signal.Signals(signum).name)
            sd_notify("STOPPING=1")
        server.stop(graceful=True, websocket_code=1012 if restarting.is_set() else 1001)

    def stop_for_budget() -> None:
        if not stopping.is_set():
            stopping.set()
            server.stop(graceful=True)

    watch_budget(server, config, lambda: loop.call_soon_threadsafe(stop_for_budget), stopping)

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        if restart_on_hup:
            loop.add_signal_handler(signal.SIGHUP, on_signal, signal.SIGHUP)
    if config.dev:
        _close_websockets_on_reload(server)
    try:
        loop.run_forever()
    finally:
        if metrics is not None:
            metrics.release(os.getpid())
        dispatcher.close()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
    sys.stdout.flush()
    return RESTART if restarting.is_set() else 0


def keep_watchdog_fed(loop: asyncio.AbstractEventLoop, stopping: threading.Event) -> None:
    """systemd's watchdog (``WatchdogSec=``): ``WATCHDOG=1`` from the event loop itself,
    so a loop that stops turning stops the pings and systemd restarts the service."""
    interval = watchdog_interval()
    if interval is None:
        return

    def feed() -> None:
        if stopping.is_set():
            return
        sd_notify("WATCHDOG=1")
        loop.call_later(interval, feed)

    loop.call_soon(feed)


def _close_websockets_on_reload(server: Server, wait: float = 2.0) -> None:
    """Under ``--dev`` a code change restarts the process: WebSocket clients are told
    first, with close code 1012 (service restart), so they know to reconnect."""
    import time

    from django.utils import autoreload

    def on_change(sender: Any, file_path: Any, **kwargs: Any) -> None:
        # Python files restart the process; other files (templates) may be handled
        # without a restart.
        if not server.websocket_connections or not str(file_path).endswith(".py"):
            return
        server.stop(graceful=True, websocket_code=1012)
        deadline = time.monotonic() + wait
        while server.websocket_connections and time.monotonic() < deadline:
            time.sleep(0.01)

    autoreload.file_changed.connect(on_change, weak=False)


def raise_open_file_limit() -> None:
    """Each connection (a WebSocket above all) holds a file descriptor: use as many as
    the hard limit allows instead of the usual soft 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass
