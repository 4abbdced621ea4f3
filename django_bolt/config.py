"""Server settings: ``BOLT = {...}`` in settings.py, overridden by runbolt's flags."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

DEFAULT_MAX_BODY = 10 * 1024 * 1024


@dataclasses.dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    processes: int = 1
    workers: int = 1  # Actix worker threads per process
    threads: int = 2  # Python threads for sync handlers and Django views, per process
    backlog: int = 1024
    keep_alive: float = 5.0
    max_body_size: int = DEFAULT_MAX_BODY
    body_timeout: float = 30.0
    spool_threshold: int = 1024 * 1024
    shutdown_timeout: int = 30
    ws_max_message: int = 1024 * 1024
    ws_ping_interval: float = 20.0  # 0 turns keep-alive pings off
    ws_ping_timeout: float = 20.0
    ws_max_connections: int = 20_000  # per process; 0 means no limit
    debug: bool = False
    dev: bool = False

    def validate(self) -> None:
        for name in ("processes", "workers", "threads", "backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be between 0 and 65535 (got {self.port})")
        if self.max_body_size < 1:
            raise ValueError("MAX_BODY_SIZE must be positive")
        if self.spool_threshold < 0:
            raise ValueError("MEMORY_SPOOL_THRESHOLD cannot be negative")
        if self.body_timeout <= 0:
            raise ValueError("BODY_TIMEOUT must be positive")
        if self.shutdown_timeout < 0 or self.keep_alive < 0:
            raise ValueError("timeouts cannot be negative")
        if self.ws_max_message < 1:
            raise ValueError("WS_MAX_MESSAGE must be positive")
        if self.ws_max_connections < 0:
            raise ValueError("WS_MAX_CONNECTIONS cannot be negative")
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
    "BODY_TIMEOUT": "body_timeout",
    "MEMORY_SPOOL_THRESHOLD": "spool_threshold",
    "SHUTDOWN_TIMEOUT": "shutdown_timeout",
    "WS_MAX_MESSAGE": "ws_max_message",
    "WS_PING_INTERVAL": "ws_ping_interval",
    "WS_PING_TIMEOUT": "ws_ping_timeout",
    "WS_MAX_CONNECTIONS": "ws_max_connections",
    "DEBUG": "debug",
}
_ACCEPTED_ELSEWHERE = {"EMIT_SIGNALS", "WS_ALLOWED_ORIGINS"}


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
        setattr(config, field, type(getattr(config, field))(value))
    for field, value in overrides.items():
        if value is not None:
            setattr(config, field, value)
    config.validate()
    return config
