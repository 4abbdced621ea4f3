"""Middleware run in Rust (CORS, rate limiting, compression) and the per-route decorators."""

from .builtin import CompressionConfig, CompressionMiddleware, CORSMiddleware, RateLimitMiddleware
from .decorators import cors, rate_limit, skip_middleware

__all__ = [
    "CORSMiddleware",
    "CompressionConfig",
    "CompressionMiddleware",
    "RateLimitMiddleware",
    "cors",
    "rate_limit",
    "skip_middleware",
]
