"""The per-route decorators (also in ``django_bolt.middleware``): ``@cors``,
``@rate_limit``, ``@skip_middleware`` and ``@middleware`` for Python middleware."""

from ..middleware.decorators import cors, middleware, rate_limit, skip_middleware

__all__ = ["cors", "middleware", "rate_limit", "skip_middleware"]
