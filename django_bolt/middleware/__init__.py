"""Middleware run in Rust (CORS, rate limiting, compression), Python middleware of your own
(``BoltAPI(middleware=[...])``, ``@middleware(...)``) and the per-route decorators."""

from .builtin import CompressionConfig, CompressionMiddleware, CORSMiddleware, RateLimitMiddleware
from .custom import MiddlewareChain
from .decorators import cors, middleware, rate_limit, skip_middleware

__all__ = [
    "CORSMiddleware",
    "CompressionConfig",
    "CompressionMiddleware",
    "MiddlewareChain",
    "RateLimitMiddleware",
    "cors",
    "middleware",
    "rate_limit",
    "skip_middleware",
]
