"""The built-in middleware, all run in Rust: CORS, rate limiting and compression."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..conf import string_list


class CORSMiddleware:
    """Cross-origin requests: preflight answered in Rust, headers added to responses.

    Origins are exact (``https://example.com``), subdomain patterns
    (``https://*.example.com``), ``"null"`` or ``"*"``. ``"*"`` with
    ``allow_credentials=True`` is refused at start-up.
    """

    name = "cors"

    def __init__(
        self,
        allow_origins: Iterable[str] | None = None,
        allow_methods: Iterable[str] | None = None,
        allow_headers: Iterable[str] | None = None,
        expose_headers: Iterable[str] | None = None,
        allow_credentials: bool = False,
        max_age: int | None = 600,
        *,
        origins: Iterable[str] | None = None,
        methods: Iterable[str] | None = None,
        headers: Iterable[str] | None = None,
        credentials: bool | None = None,
    ) -> None:
        self.origins = string_list(allow_origins if allow_origins is not None else origins) or []
        self.methods = string_list(allow_methods if allow_methods is not None else methods)
        self.headers = string_list(allow_headers if allow_headers is not None else headers) or []
        self.expose_headers = string_list(expose_headers) or []
        self.credentials = bool(allow_credentials if credentials is None else credentials)
        self.max_age = max_age
        if not self.origins:
            raise ValueError("CORSMiddleware needs allow_origins")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CORSMiddleware:
        """From a ``BOLT_CORS`` / ``middleware_config["cors"]`` dict; both the
        ``allow_origins`` and the short ``origins`` spellings are accepted."""
        known = {
            "allow_origins", "allow_methods", "allow_headers", "expose_headers",
            "allow_credentials", "max_age", "origins", "methods", "headers", "credentials",
        }  # fmt: skip
        unknown = set(config) - known
        if unknown:
            raise ValueError(f"unknown CORS option(s) {sorted(unknown)}")
        return cls(**config)

    def to_spec(self) -> dict[str, Any]:
        return {
            "origins": self.origins,
            "methods": self.methods,
            "headers": self.headers,
            "expose_headers": self.expose_headers,
            "credentials": self.credentials,
            "max_age": self.max_age,
        }

    def __repr__(self) -> str:
        return f"CORSMiddleware(allow_origins={self.origins!r})"


class RateLimitMiddleware:
    """A token bucket per client: ``requests`` per ``window`` seconds (bursts up to
    ``burst``, default ``requests``). ``key`` is ``"ip"`` (X-Forwarded-For only from
    ``BOLT_TRUSTED_PROXIES``), ``"user"``, ``"api_key"`` or ``"header:<name>"``. Buckets
    live in the process, or in Redis when ``BOLT_REDIS_URL`` is set."""

    name = "rate_limit"

    def __init__(
        self,
        requests: float | None = None,
        window: float = 1.0,
        *,
        rps: float | None = None,
        burst: float | None = None,
        key: str = "ip",
    ) -> None:
        if rps is not None and requests is not None:
            raise ValueError("give either rps or requests/window")
        if rps is not None:
            rate = float(rps)
        elif requests is not None:
            if window <= 0:
                raise ValueError("window must be positive")
            rate = float(requests) / float(window)
        else:
            raise ValueError("RateLimitMiddleware needs requests=... (or rps=...)")
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.rate = rate
        default_burst = requests if requests is not None else rps
        self.burst = float(burst if burst is not None else max(1.0, float(default_burst or 1)))
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        self.key = key

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RateLimitMiddleware:
        return cls(**config)

    def to_spec(self, scope: str, backend: Any) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "burst": self.burst,
            "key": self.key,
            "scope": scope,
            "backend": backend,
        }

    def __repr__(self) -> str:
        return f"RateLimitMiddleware(rate={self.rate:g}/s, burst={self.burst:g}, key={self.key!r})"


@dataclass
class CompressionConfig:
    """Response compression: ``backend`` is ``"gzip"``, ``"brotli"`` or ``"zstd"``;
    responses smaller than ``minimum_size`` bytes are sent as they are; clients that do
    not accept the backend get gzip when ``gzip_fallback``."""

    backend: str = "gzip"
    minimum_size: int = 500
    gzip_fallback: bool = True

    name = "compression"

    def __post_init__(self) -> None:
        if self.backend.lower() not in ("gzip", "brotli", "br", "zstd"):
            raise ValueError(f"unsupported compression backend {self.backend!r}")
        if self.minimum_size < 0:
            raise ValueError("minimum_size must not be negative")

    @classmethod
    def from_config(cls, config: Any) -> CompressionConfig:
        if isinstance(config, CompressionConfig):
            return config
        return cls(**config)

    def to_spec(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "minimum_size": self.minimum_size,
            "gzip_fallback": self.gzip_fallback,
        }


class CompressionMiddleware(CompressionConfig):
    """``CompressionMiddleware()`` in ``BoltAPI(middleware=[...])``."""


KINDS = {
    "cors": CORSMiddleware,
    "rate_limit": RateLimitMiddleware,
    "compression": CompressionConfig,
}


def middleware_kind(value: Any) -> str:
    """``"cors"`` for CORSMiddleware (class, instance or name), and so on."""
    if isinstance(value, str):
        name = value.lower().replace("-", "_")
        aliases = {"ratelimit": "rate_limit", "compress": "compression", "gzip": "compression"}
        name = aliases.get(name, name)
        if name not in KINDS:
            raise ValueError(f"unknown middleware {value!r}; known: {sorted(KINDS)}")
        return name
    name = getattr(value, "name", None)
    if name in KINDS:
        return str(name)
    raise TypeError(f"{value!r} is not a django_bolt middleware")
