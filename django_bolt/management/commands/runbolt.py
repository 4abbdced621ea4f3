"""``python manage.py runbolt``: serve the whole site (API routes natively in Rust,
everything else through Django) in place of gunicorn/uvicorn."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the Django site with django_bolt's Rust server."
    requires_system_checks = "__all__"  # type: ignore[assignment]

    def execute(self, *args: Any, **options: Any) -> Any:
        # Every system check but django_bolt's own: runbolt reports those problems
        # itself, as one line, when it compiles the site.
        from django.core.checks import registry

        from ..checks import TAG

        self.requires_system_checks = sorted(registry.registry.tags_available() - {TAG})
        return super().execute(*args, **options)

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "addrport", nargs="?", help="Optional port or host:port, as runserver takes."
        )
        parser.add_argument("--host", help="Address to bind (default 127.0.0.1 or BOLT['HOST']).")
        parser.add_argument("--port", type=int, help="Port to bind (default 8000 or BOLT['PORT']).")
        parser.add_argument("--processes", type=int, help="Worker processes sharing the port.")
        parser.add_argument("--workers", type=int, help="Actix worker threads per process.")
        parser.add_argument(
            "--threads",
            type=int,
            help="Python threads per process for sync handlers and Django views.",
        )
        parser.add_argument("--backlog", type=int, help="Listen backlog.")
        parser.add_argument(
            "--keep-alive",
            type=float,
            dest="keep_alive",
            help="Keep-alive timeout in seconds (0 disables).",
        )
        parser.add_argument(
            "--max-body-size",
            type=int,
            dest="max_body_size",
            help="Largest request body of an API route in bytes (413 beyond).",
        )
        parser.add_argument(
            "--django-max-body-size",
            type=int,
            dest="django_max_body_size",
            help="Largest request body of a path Django answers, in bytes (413 beyond).",
        )
        parser.add_argument(
            "--body-timeout",
            type=float,
            dest="body_timeout",
            help="Seconds a client gets to send the request body (408 beyond).",
        )
        parser.add_argument(
            "--shutdown-timeout",
            type=int,
            dest="shutdown_timeout",
            help="Seconds in-flight requests get after SIGTERM.",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            dest="timeout",
            help="Seconds a handler or view gets to start its answer (504 beyond; 0: none).",
        )
        parser.add_argument(
            "--header-timeout",
            type=float,
            dest="header_timeout",
            help="Seconds a request head may take: a new connection's first from its start, "
            "later ones from their first byte (408 beyond; 0: none).",
        )
        parser.add_argument(
            "--send-timeout",
            type=float,
            dest="send_timeout",
            help="Seconds a client may read nothing of a streamed response before it is "
            "dropped (default 60, like nginx's send_timeout).",
        )
        parser.add_argument(
            "--max-pending",
            type=int,
            dest="max_pending",
            help="Requests in Python at once per process (503 beyond; 0: no limit).",
        )
        for flag, default in (
            ("--limit-request-line", 4094),
            ("--limit-request-field-size", 8190),
            ("--limit-request-fields", 100),
        ):
            parser.add_argument(
                flag,
                type=int,
                dest=flag[2:].replace("-", "_"),
                help=f"gunicorn's {flag} (default {default}).",
            )
        parser.add_argument(
            "--max-requests",
            type=int,
            dest="max_requests",
            help="Replace a worker process after this many requests (0: never).",
        )
        parser.add_argument(
            "--max-requests-jitter",
            type=int,
            dest="max_requests_jitter",
            help="Add up to this many to each worker's --max-requests, so they do not all "
            "restart at once.",
        )
        parser.add_argument(
            "--max-rss",
            type=int,
            dest="max_rss",
            help="Replace a worker process once its resident memory passes this many MiB.",
        )
        parser.add_argument("--uds", help="Listen on this Unix socket path instead of host:port.")
        parser.add_argument(
            "--uds-mode",
            type=octal,
            dest="uds_mode",
            help="Permissions of the --uds socket, in octal (default 660).",
        )
        parser.add_argument(
            "--fd", type=int, help="Serve this already listening socket (inherited descriptor)."
        )
        parser.add_argument(
            "--forwarded-allow-ips",
            dest="forwarded_allow_ips",
            help="Proxies whose X-Forwarded-For/-Proto and Forwarded headers are believed, "
            "comma-separated ('*' for any; default 127.0.0.1,::1).",
        )
        parser.add_argument(
            "--root-path",
            dest="root_path",
            help="The path a proxy mounts the site at (e.g. /app): Django's SCRIPT_NAME, "
            "stripped from request paths before routing.",
        )
        parser.add_argument(
            "--ssl-certfile",
            dest="ssl_certfile",
            help="PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1).",
        )
        parser.add_argument("--ssl-keyfile", dest="ssl_keyfile", help="PEM private key.")
        parser.add_argument(
            "--metrics-port",
            type=int,
            dest="metrics_port",
            help="Serve Prometheus /metrics, /healthz and /readyz on this port (a listener "
            "of its own, never the public one).",
        )
        parser.add_argument(
            "--metrics-host",
            dest="metrics_host",
            help="Address of the --metrics-port listener (default 127.0.0.1).",
        )
        parser.add_argument(
            "--access-log",
            action="store_true",
            default=None,
            dest="access_log",
            help="Log one line per request (stderr, or the django_bolt.access logger).",
        )
        parser.add_argument(
            "--access-log-format",
            dest="access_log_format",
            help="gunicorn's atoms, e.g. '%%(h)s \"%%(r)s\" %%(s)s %%(M)sms', or 'json'.",
        )
        parser.add_argument(
            "--log-level",
            dest="log_level",
            choices=["debug", "info", "warning", "error", "critical"],
            help="Level of the django_bolt loggers (default: as the project's LOGGING says).",
        )
        parser.add_argument(
            "--dev", action="store_true", help="Reload when code changes (single process)."
        )
        parser.add_argument("--noreload", action="store_true", help=argparse_suppress())

    def handle(self, *args: Any, **options: Any) -> None:
        from django_bolt.conf import address_list, load_config

        host, port = options["host"], options["port"]
        if options.get("addrport"):
            host_part, _, port_part = options["addrport"].rpartition(":")
            if not port_part.isdigit():
                raise CommandError(f"{options['addrport']!r} is not a port or host:port")
            port = port if port is not None else int(port_part)
            host = host if host is not None else (host_part or None)
        try:
            config = load_config(
                host=host,
                port=port,
                processes=options["processes"],
                workers=options["workers"],
                threads=options["threads"],
                backlog=options["backlog"],
                keep_alive=options["keep_alive"],
                max_body_size=options["max_body_size"],
                django_max_body_size=options["django_max_body_size"],
                body_timeout=options["body_timeout"],
                shutdown_timeout=options["shutdown_timeout"],
                dev=options["dev"] or None,
                timeout=options["timeout"],
                max_pending=options["max_pending"],
                header_timeout=options["header_timeout"],
                send_timeout=options["send_timeout"],
                limit_request_line=options["limit_request_line"],
                limit_request_field_size=options["limit_request_field_size"],
                limit_request_fields=options["limit_request_fields"],
                forwarded_allow_ips=(
                    address_list(options["forwarded_allow_ips"])
                    if options["forwarded_allow_ips"] is not None
                    else None
                ),
                uds=options["uds"],
                uds_mode=options["uds_mode"],
                fd=options["fd"],
                root_path=options["root_path"],
                metrics_port=options["metrics_port"],
                metrics_host=options["metrics_host"],
                ssl_certfile=options["ssl_certfile"],
                ssl_keyfile=options["ssl_keyfile"],
                access_log=options["access_log"],
                access_log_format=options["access_log_format"],
                log_level=options["log_level"],
                max_requests=options["max_requests"],
                max_requests_jitter=options["max_requests_jitter"],
                max_rss=options["max_rss"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if config.forwarded_allow_ips is not None:
            from django_bolt.conf import use_forwarded_allow_ips

            use_forwarded_allow_ips(config.forwarded_allow_ips)
        if config.log_level is not None:
            from django_bolt.server.logs import set_log_level

            set_log_level(config.log_level)
        if config.dev:
            from django.utils import autoreload

            autoreload.run_with_reloader(self._run_one, config)
            return
        worker = os.environ.pop(WORKER_ENV, None)
        if worker is not None:  # a fresh worker a reloading supervisor started
            sys.exit(self._run_worker(config, worker))
        from django_bolt.server.listen import Sockets, describe

        # Opened once, before any worker: they all accept from it, and a second server
        # on the same address is refused here. A process restarting in place (SIGHUP)
        # inherits it.
        inherited = os.environ.pop(LISTEN_FD_ENV, None)
        try:
            sockets = Sockets.decode(inherited) if inherited else Sockets.open(config)
        except OSError as exc:
            raise CommandError(str(exc)) from None
        where = describe(
            sockets.listener, tls=bool(config.ssl_certfile), root_path=config.root_path
        )
        if sockets.metrics_listener is not None:
            print(
                f"django_bolt metrics: {describe(sockets.metrics_listener)}metrics "
                "(and /healthz, /readyz)",
                flush=True,
            )
        if config.processes > 1 or config.max_requests or config.max_rss:
            from django_bolt.server.supervisor import supervise

            print(
                f"django_bolt supervisor: starting {config.processes} "
                f"process{'es' if config.processes > 1 else ''} on {where}",
                flush=True,
            )
            # Compiled once here, so a configuration error stops the supervisor instead of
            # killing every worker it would respawn.
            site = self._compile(config)
            if config.processes > 1:
                warn_about_local_groups(site)
            code = supervise(
                config.processes,
                _Workers(self, config, site, sockets),
                config.shutdown_timeout,
                metrics=sockets.metrics,
            )
            sys.exit(code)
        from django_bolt.server.serve import RESTART

        code = self._run_one(config, sockets=sockets, restart_on_hup=True)
        if code == RESTART:
            restart_in_place(sockets)
        sys.exit(code)

    def _run_worker(self, config: Any, worker: str) -> int:
        from django_bolt.server.listen import Sockets

        fds, ready_fd, slot = worker.split(":")
        return self._run_one(
            config,
            quiet=int(slot) > 0,
            sockets=Sockets.decode(fds),
            ready=announce_ready(int(ready_fd)),
            supervised=True,
        )

    def _compile(self, config: Any) -> Any:
        from django.core.exceptions import ImproperlyConfigured

        from django_bolt.server.site import compile_site

        try:
            return compile_site(debug=config.debug)
        except (ValueError, TypeError, ImproperlyConfigured) as exc:
            raise CommandError(f"cannot compile the API routes: {exc}") from None

    def _run_one(
        self,
        config: Any,
        quiet: bool = False,
        site: Any = None,
        sockets: Any = None,
        ready: Any = None,
        restart_on_hup: bool = False,
        supervised: bool = False,
    ) -> int:
        from django_bolt.server.serve import serve

        if site is None:
            site = self._compile(config)
        from django.core.exceptions import ImproperlyConfigured

        try:
            return serve(
                config,
                site,
                quiet=quiet,
                sockets=sockets,
                ready=ready,
                restart_on_hup=restart_on_hup,
                supervised=supervised,
            )
        except (OSError, ImproperlyConfigured) as exc:
            raise CommandError(str(exc)) from None


#: Set for a worker a supervisor starts in a fresh interpreter: "fds:ready_fd:slot"
#: (``Sockets.encode`` for the fds).
WORKER_ENV = "BOLT_WORKER"
#: Set for a process restarting in place: the sockets it keeps serving
#: (``Sockets.encode``).
LISTEN_FD_ENV = "BOLT_LISTEN_FD"


def fresh_interpreter() -> list[str]:
    """This command again, in a new interpreter (same flags, same working directory)."""
    return [sys.executable, *sys.orig_argv[1:]]


def announce_ready(fd: int) -> Any:
    """Tells the supervisor (through ``fd``) that this worker serves."""
    return lambda port: os.write(fd, f"{os.getpid()}\n".encode())


class _Workers:
    """How the supervisor starts runbolt's workers: forked from the compiled site, or,
    after a reload, in fresh interpreters running this command again."""

    def __init__(self, command: Command, config: Any, site: Any, sockets: Any) -> None:
        self.cmd, self.config, self.site, self.sockets = command, config, site, sockets

    def run(self, slot: int, ready_fd: int) -> int:
        return self.cmd._run_one(
            self.config,
            quiet=slot > 0,
            site=self.site,
            sockets=self.sockets,
            ready=announce_ready(ready_fd),
            supervised=True,
        )

    def command(self, slot: int, ready_fd: int) -> tuple[list[str], dict[str, str], list[int]]:
        env = {**os.environ, WORKER_ENV: f"{self.sockets.encode()}:{ready_fd}:{slot}"}
        return fresh_interpreter(), env, [*self.sockets.fds(), ready_fd]


def restart_in_place(sockets: Any) -> None:
    """SIGHUP without a supervisor: in-flight requests have finished; this process
    becomes a new interpreter (same pid, new code) serving the same sockets. Connections
    that arrive meanwhile wait in the listening socket's queue."""
    for fd in sockets.fds():
        os.set_inheritable(fd, True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, fresh_interpreter(), {**os.environ, LISTEN_FD_ENV: sockets.encode()})


def octal(text: str) -> int:
    """``--uds-mode 660``: permissions written in octal."""
    try:
        return int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode such as 660") from None


def warn_about_local_groups(site: Any) -> None:
    """Several processes without Redis: WebSocket groups reach one process each."""
    from django_bolt.conf import redis_url

    if redis_url() or not site.has_websockets:
        return
    logging.getLogger("django_bolt").warning(
        "WebSocket groups are per process without BOLT_REDIS_URL: with --processes > 1 "
        "api.group_send reaches only the members connected to the sending process"
    )


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS
