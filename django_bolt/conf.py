"""Every setting django_bolt reads: ``BOLT = {...}`` and ``BOLT_*`` in settings.py
(overridden by runbolt's flags for the server's own settings)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ._core import ServerSettings

VERSION = "0.1.0"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_DJANGO_MAX_BODY = 100 * 1024 * 1024


@dataclasses.dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    processes: int = 1
    workers: int = 1  # Actix worker threads per process
    threads: int = 2  # Python threads for sync handlers and Django views, per process
    backlog: int = 1024
    keep_alive: float = 5.0
    max_body_size: int = DEFAULT_MAX_BODY  # API routes
    django_max_body_size: int = DEFAULT_DJANGO_MAX_BODY  # paths Django answers
    body_timeout: float = 30.0
    spool_threshold: int = 1024 * 1024
    shutdown_timeout: int = 30
    ws_max_message: int = 1024 * 1024
    ws_ping_interval: float = 20.0  # 0 turns keep-alive pings off
    ws_ping_timeout: float = 20.0
    ws_max_connections: int = 20_000  # per process, within the descriptor limit; 0: that
    ws_max_connections_per_client: int = 0  # per client address; 0 means no limit
    debug: bool = False
    dev: bool = False
    timeout: float = 30.0  # seconds to start an answer (504 beyond); 0: none
    max_pending: int = 0  # requests in Python at once per process (503 beyond); 0: none
    limit_request_line: int = 4094
    limit_request_field_size: int = 8190
    limit_request_fields: int = 100
    header_timeout: float = 5.0  # each request head, from its first byte (408 beyond)
    send_timeout: float = 60.0  # a client that reads nothing of a stream this long is dropped
    max_requests: int = 0  # a worker is replaced after this many requests; 0: never
    max_requests_jitter: int = 0
    max_rss: int = 0  # MiB; a worker is replaced past it; 0: never
    # Proxies whose forwarded headers are believed (None: from the settings).
    forwarded_allow_ips: list[str] | None = None
    uds: str | None = None  # a Unix socket path to listen on instead of host:port
    uds_mode: int = 0o660
    fd: int | None = None  # a listening socket a parent opened
    access_log: bool = False
    access_log_format: str = ""  # gunicorn's atoms, "json", or "" for the default line
    log_level: str | None = None  # the django_bolt loggers' level, when given
    ssl_certfile: str | None = None  # PEM certificate chain: the socket speaks TLS
    ssl_keyfile: str | None = None  # PEM private key
    root_path: str = ""  # where a proxy mounts the site: Django's SCRIPT_NAME
    metrics_port: int | None = None  # a second listener: /metrics, /healthz, /readyz
    metrics_host: str = "127.0.0.1"
    cache_max_bytes: int = 64 * 1024 * 1024  # cache_page answers kept per process

    def server_settings(
        self, *, asgi_websockets: bool = False, batch_scheduling: bool = True
    ) -> ServerSettings:
        """What the Rust server (and the in-process test app) takes: one object, the same
        limits for both."""
        return ServerSettings(
            host=self.host,
            port=self.port,
            workers=self.workers,
            backlog=self.backlog,
            keep_alive=self.keep_alive,
            max_body_size=self.max_body_size,
            django_max_body_size=self.django_max_body_size,
            body_timeout=self.body_timeout,
            spool_threshold=self.spool_threshold,
            shutdown_timeout=self.shutdown_timeout,
            reuse_port=False,
            batch_scheduling=batch_scheduling,
            ws_max_message=self.ws_max_message,
            ws_ping_interval=self.ws_ping_interval,
            ws_ping_timeout=self.ws_ping_timeout,
            ws_max_connections=websocket_limit(self.ws_max_connections),
            ws_max_connections_per_client=self.ws_max_connections_per_client,
            asgi_websockets=asgi_websockets,
            access_log=self.access_log,
            access_log_format=self.access_log_format,
            access_log_python=access_log_through_python(),
            trusted_proxies=trusted_proxies(),
            timeout=self.timeout,
            max_pending=self.max_pending,
            limit_request_line=self.limit_request_line,
            limit_request_field_size=self.limit_request_field_size,
            limit_request_fields=self.limit_request_fields,
            header_timeout=self.header_timeout,
            send_timeout=self.send_timeout,
            ssl_certfile=self.ssl_certfile or "",
            ssl_keyfile=self.ssl_keyfile or "",
            root_path=self.root_path,
            cache_max_bytes=self.cache_max_bytes,
        )

    def validate(self) -> None:
        for name in ("processes", "workers", "threads", "backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (got {self.port})")
        if self.max_body_size < 1 or self.django_max_body_size < 1:
            raise ValueError("MAX_BODY_SIZE and DJANGO_MAX_BODY_SIZE must be positive")
        if self.spool_threshold < 0:
            raise ValueError("MEMORY_SPOOL_THRESHOLD cannot be negative")
        if self.body_timeout <= 0:
            raise ValueError("BODY_TIMEOUT must be positive")
        if min(self.shutdown_timeout, self.keep_alive, self.timeout, self.header_timeout) < 0:
            raise ValueError("timeouts cannot be negative")
        if self.send_timeout <= 0:
            raise ValueError("SEND_TIMEOUT must be positive")
        for name in ("max_pending", "max_requests", "max_requests_jitter", "max_rss"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name.upper()} cannot be negative")
        for name in ("limit_request_line", "limit_request_field_size", "limit_request_fields"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.upper()} must be positive")
        if self.cache_max_bytes < 0:
            raise ValueError("CACHE_MAX_BYTES cannot be negative")
        if self.ws_max_message < 1:
            raise ValueError("WS_MAX_MESSAGE must be positive")
        if self.ws_max_connections_per_client < 0:
            raise ValueError("WS_MAX_CONNECTIONS_PER_CLIENT cannot be negative")
        if self.ws_max_connections < 0:
            raise ValueError("WS_MAX_CONNECTIONS cannot be negative")
        # Rust compiles the log format and the proxy networks: refuse bad ones now, with
        # their own message, rather than when the server starts.
        if self.root_path and not self.root_path.startswith("/"):
            raise ValueError(f"ROOT_PATH must start with '/' (got {self.root_path!r})")
        self.root_path = self.root_path.rstrip("/")
        if self.metrics_port is not None:
            self.metrics_port = int(self.metrics_port)
            if not 0 <= self.metrics_port <= 65535:
                raise ValueError(
                    f"METRICS_PORT must be between 0 and 65535 (got {self.metrics_port})"
                )
            if self.metrics_port == self.port and self.metrics_port and not self.uds:
                raise ValueError("METRICS_PORT must differ from the server's own port")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
        if self.ssl_certfile and self.uds:
            raise ValueError("TLS is served on TCP sockets only, not with --uds")
        ServerSettings(
            ssl_certfile=self.ssl_certfile or "",
            ssl_keyfile=self.ssl_keyfile or "",
            access_log=True,
            access_log_format=self.access_log_format,
            trusted_proxies=(
                self.forwarded_allow_ips
                if self.forwarded_allow_ips is not None
                else trusted_proxies()
            ),
        )
        if self.log_level is not None:
            import logging

            level = logging.getLevelName(str(self.log_level).upper())
            if not isinstance(level, int):
                raise ValueError(
                    f"LOG_LEVEL {self.log_level!r} is not one of "
                    "debug, info, warning, error, critical"
                )
        if self.ws_ping_interval < 0 or self.ws_ping_timeout <= 0:
            raise ValueError(
                "WS_PING_INTERVAL cannot be negative and WS_PING_TIMEOUT must be positive"
            )


_KEYS = {
    "HOST": "host",
    "PORT": "port",
    "PROCESSES": "processes",
    "WORKERS": "workers",
    "THREADS": "threads",
    "BACKLOG": "backlog",
    "KEEP_ALIVE": "keep_alive",
    "MAX_BODY_SIZE": "max_body_size",
    "DJANGO_MAX_BODY_SIZE": "django_max_body_size",
    "BODY_TIMEOUT": "body_timeout",
    "MEMORY_SPOOL_THRESHOLD": "spool_threshold",
    "SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "WS_MAX_MESSAGE": "ws_max_message",
    "WS_PING_INTERVAL": "ws_ping_interval",
    "WS_PING_TIMEOUT": "ws_ping_timeout",
    "WS_MAX_CONNECTIONS": "ws_max_connections",
    "WS_MAX_CONNECTIONS_PER_CLIENT": "ws_max_connections_per_client",
    "DEBUG": "debug",
    "TIMEOUT": "timeout",
    "MAX_PENDING": "max_pending",
    "LIMIT_REQUEST_LINE": "limit_request_line",
    "LIMIT_REQUEST_FIELD_SIZE": "limit_request_field_size",
    "LIMIT_REQUEST_FIELDS": "limit_request_fields",
    "HEADER_TIMEOUT": "header_timeout",
    "SEND_TIMEOUT": "send_timeout",
    "MAX_REQUESTS": "max_requests",
    "MAX_REQUESTS_JITTER": "max_requests_jitter",
    "MAX_RSS": "max_rss",
    "UDS": "uds",
    "UDS_MODE": "uds_mode",
    "FD": "fd",
    "ACCESS_LOG": "access_log",
    "ACCESS_LOG_FORMAT": "access_log_format",
    "LOG_LEVEL": "log_level",
    "SSL_CERTFILE": "ssl_certfile",
    "SSL_KEYFILE": "ssl_keyfile",
    "ROOT_PATH": "root_path",
    "METRICS_PORT": "metrics_port",
    "METRICS_HOST": "metrics_host",
    "CACHE_MAX_BYTES": "cache_max_bytes",
}
_ACCEPTED_ELSEWHERE = {
    "WS_ALLOWED_ORIGINS",
    "STATIC_MAX_AGE",
    "SERVE_MEDIA",
    "MEDIA_MAX_AGE",
    "FORWARDED_ALLOW_IPS",
}


def websocket_limit(configured: int, descriptors: int | None = None) -> int:
    """The WebSocket connections a process takes: ``configured`` (0: as many as fit),
    but never so many that they use up the file descriptors (``descriptors``, the
    process's limit by default): a fifth of them, at least 256, stays for HTTP
    connections, the database and files."""
    if descriptors is None:
        import resource

        descriptors = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if descriptors == resource.RLIM_INFINITY:
            return configured
    room = max(descriptors - max(256, descriptors // 5), 1)
    return min(configured, room) if configured else room


def load_config(**overrides: Any) -> ServerConfig:
    """Reads settings.BOLT once; flags given as keyword arguments (not None) win."""
    from django.conf import settings

    config = ServerConfig(debug=bool(settings.DEBUG))
    upload_limit = getattr(settings, "BOLT_MAX_UPLOAD_SIZE", None)
    if upload_limit:
        config.max_body_size = int(upload_limit)
    spool = getattr(settings, "BOLT_MEMORY_SPOOL_THRESHOLD", None)
    if spool is not None:
        config.spool_threshold = int(spool)
    for key, value in dict(getattr(settings, "BOLT", {}) or {}).items():
        field = _KEYS.get(str(key).upper())
        if field is None:
            if str(key).upper() not in _ACCEPTED_ELSEWHERE:
                warnings.warn(f"unknown BOLT setting {key!r} is ignored", stacklevel=2)
            continue
        current = getattr(config, field)
        setattr(config, field, value if current is None else type(current)(value))
    for field, value in overrides.items():
        if value is not None:
            setattr(config, field, value)
    config.validate()
    return config


def setting(name: str, default: Any = None) -> Any:
    """A project setting by name (``BOLT_CORS``, ``JWT_SECRET``...), ``default`` when unset."""
    from django.conf import settings

    return getattr(settings, name, default)


def bolt_option(key: str, default: Any = None) -> Any:
    """One key of the ``BOLT = {...}`` dict, its case ignored as in ``load_config``."""
    wanted = key.upper()
    for name, value in dict(setting("BOLT") or {}).items():
        if str(name).upper() == wanted:
            return value
    return default


def redis_url() -> str | None:
    """``BOLT_REDIS_URL``: where rate limits, revocations and WebSocket groups are shared."""
    return setting("BOLT_REDIS_URL") or None


def redis_prefix() -> str:
    return setting("BOLT_REDIS_PREFIX", "bolt:")


def string_list(value: Any) -> list[str] | None:
    """None stays None; one string becomes a list of one; any iterable a list of str."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


# -- authentication and policy settings (read when routes are compiled) -------------------
def jwt_secret() -> Any:
    """``JWT_SECRET_KEY``, else ``SECRET_KEY``."""
    return setting("JWT_SECRET_KEY") or setting("SECRET_KEY")


def jwt_algorithm() -> str:
    """``JWT_ALGORITHM`` (HS256)."""
    return str(setting("JWT_ALGORITHM", "HS256") or "HS256")


def jwt_expiration() -> int:
    """``JWT_EXPIRATION``: a token's lifetime in seconds (a day)."""
    return int(setting("JWT_EXPIRATION", 24 * 3600) or 24 * 3600)


def api_keys() -> Any:
    """``BOLT_API_KEYS``: the keys ``APIKeyAuthentication`` accepts by default."""
    return setting("BOLT_API_KEYS")


def default_authentication() -> Any:
    """``BOLT_AUTHENTICATION``: backends for routes with guards but no ``auth=``."""
    return setting("BOLT_AUTHENTICATION")


def cors() -> Any:
    """``BOLT_CORS``: the project's CORS policy for every API (a dict or CORSMiddleware)."""
    return setting("BOLT_CORS")


def compression() -> Any:
    """``BOLT_COMPRESSION``: the project's response compression for every API."""
    return setting("BOLT_COMPRESSION")


#: runbolt's --forwarded-allow-ips, when given (it wins over the settings).
_forwarded_allow_ips: list[str] | None = None
LOCAL_PROXIES = ["127.0.0.1", "::1"]


def use_forwarded_allow_ips(ips: list[str] | None) -> None:
    global _forwarded_allow_ips
    _forwarded_allow_ips = ips


def trusted_proxies() -> list[str]:
    """Peers whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` / ``Forwarded`` headers are
    believed (client address and scheme, rate-limit keys, access log, request ids):
    runbolt's ``--forwarded-allow-ips``, else ``BOLT["FORWARDED_ALLOW_IPS"]``, else
    ``BOLT_TRUSTED_PROXIES``, else the local host, as gunicorn and uvicorn do. ``"*"``
    trusts every peer."""
    if _forwarded_allow_ips is not None:
        return list(_forwarded_allow_ips)
    configured = bolt_option("FORWARDED_ALLOW_IPS")
    if configured is None:
        configured = setting("BOLT_TRUSTED_PROXIES")
    if configured is None:
        return list(LOCAL_PROXIES)
    return address_list(configured)


def address_list(value: Any) -> list[str]:
    """Addresses and networks from a list, or from one comma-separated string."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(v).strip() for v in value]


def access_log_through_python() -> bool:
    """Access lines go through Python logging when the project's LOGGING gives the
    ``django_bolt.access`` logger handlers of its own; otherwise Rust writes them to
    stderr."""
    import logging

    return bool(logging.getLogger("django_bolt.access").handlers)


def websocket_allowed_origins() -> Any:
    """``BOLT["WS_ALLOWED_ORIGINS"]``."""
    return bolt_option("WS_ALLOWED_ORIGINS")


def static_max_age() -> int:
    """``BOLT["STATIC_MAX_AGE"]``: seconds a static file without a content hash is cached."""
    return _max_age("STATIC_MAX_AGE", 60)


def serve_media() -> bool:
    """``BOLT["SERVE_MEDIA"]``: runbolt serves ``MEDIA_URL`` from ``MEDIA_ROOT`` itself."""
    return bool(bolt_option("SERVE_MEDIA", False))


def media_max_age() -> int:
    """``BOLT["MEDIA_MAX_AGE"]``: seconds an uploaded file may be cached (0: revalidate)."""
    return _max_age("MEDIA_MAX_AGE", 0)


def _max_age(key: str, default: int) -> int:
    """A Cache-Control max-age from ``BOLT``: whole seconds, up to a year."""
    from django.core.exceptions import ImproperlyConfigured

    raw = bolt_option(key, default)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = -1
    if isinstance(raw, bool) or not 0 <= value <= 31_536_000:
        raise ImproperlyConfigured(
            f"BOLT[{key!r}] must be a number of seconds from 0 to 31536000 (got {raw!r})"
        )
    return value
