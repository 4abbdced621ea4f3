"""Revoked token ids (the ``jti`` claim).

``InMemoryRevocation`` (this process) and ``RedisRevocation`` (every process and machine
sharing the Redis server) are checked in Rust; ``DjangoCacheRevocation`` and
``DjangoORMRevocation`` are checked in Python before the handler. A JWT authenticator
with a revocation store refuses tokens without a ``jti`` (``create_jwt_for_user`` always
sets one).
"""

from __future__ import annotations

import abc
import time
from typing import Any

from .._core import Backend
from ..conf import jwt_expiration, redis_prefix, redis_url


def _expiry(expires_at: float | None) -> int:
    # Without the token's expiry, remember the id for a day past the default lifetime.
    if expires_at is None:
        return int(time.time()) + jwt_expiration() + 24 * 3600
    return int(expires_at)


class RevocationStore(abc.ABC):
    """Where revoked token ids are kept until the token would have expired anyway.
    Subclasses implement ``revoke`` and ``is_revoked`` (and may override the async twins)."""

    def rust_backend(self) -> Backend | None:
        """The Rust store that answers for this one, or None when Python must."""
        return None

    @abc.abstractmethod
    def revoke(self, jti: str, expires_at: float | None = None) -> None: ...

    @abc.abstractmethod
    def is_revoked(self, jti: str) -> bool: ...

    async def arevoke(self, jti: str, expires_at: float | None = None) -> None:
        from asgiref.sync import sync_to_async

        await sync_to_async(self.revoke)(jti, expires_at)

    async def ais_revoked(self, jti: str) -> bool:
        from asgiref.sync import sync_to_async

        return await sync_to_async(self.is_revoked)(jti)

    def revoke_token(self, context: dict[str, Any]) -> None:
        """Revokes the token a request authenticated with (pass ``request.context``)."""
        jti = context.get("jti")
        if not jti:
            raise ValueError("the token has no jti claim and cannot be revoked")
        self.revoke(str(jti), context.get("exp"))

    async def arevoke_token(self, context: dict[str, Any]) -> None:
        jti = context.get("jti")
        if not jti:
            raise ValueError("the token has no jti claim and cannot be revoked")
        await self.arevoke(str(jti), context.get("exp"))


class _RustStore(RevocationStore):
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def rust_backend(self) -> Backend:
        return self._backend

    def revoke(self, jti: str, expires_at: float | None = None) -> None:
        self._backend.revoke(jti, _expiry(expires_at))

    def is_revoked(self, jti: str) -> bool:
        return self._backend.is_revoked(jti)

    async def arevoke(self, jti: str, expires_at: float | None = None) -> None:
        if self._backend.kind == "local":
            self.revoke(jti, expires_at)
        else:
            await super().arevoke(jti, expires_at)

    async def ais_revoked(self, jti: str) -> bool:
        if self._backend.kind == "local":
            return self.is_revoked(jti)
        return await super().ais_revoked(jti)


class InMemoryRevocation(_RustStore):
    """Revocations known to this process only (tests, single-process deployments)."""

    def __init__(self) -> None:
        super().__init__(Backend.local())


class RedisRevocation(_RustStore):
    """Revocations in Redis (``url`` defaults to ``settings.BOLT_REDIS_URL``, ``prefix`` to
    ``settings.BOLT_REDIS_PREFIX``), seen by every process and machine at once."""

    def __init__(self, url: str | None = None, prefix: str | None = None) -> None:
        if url is None:
            url = redis_url()
        if prefix is None:
            prefix = redis_prefix()
        if not url:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured("RedisRevocation needs url=... or BOLT_REDIS_URL")
        super().__init__(Backend.redis(url, prefix))


class DjangoCacheRevocation(RevocationStore):
    """Revocations in a Django cache (``cache_alias``), checked in Python."""

    def __init__(self, cache_alias: str = "default", prefix: str = "bolt:revoked:") -> None:
        self.cache_alias = cache_alias
        self.prefix = prefix

    def _cache(self) -> Any:
        from django.core.cache import caches

        return caches[self.cache_alias]

    def revoke(self, jti: str, expires_at: float | None = None) -> None:
        ttl = max(1, _expiry(expires_at) - int(time.time()))
        self._cache().set(self.prefix + jti, 1, ttl)

    def is_revoked(self, jti: str) -> bool:
        return self._cache().get(self.prefix + jti) is not None

    async def arevoke(self, jti: str, expires_at: float | None = None) -> None:
        ttl = max(1, _expiry(expires_at) - int(time.time()))
        await self._cache().aset(self.prefix + jti, 1, ttl)

    async def ais_revoked(self, jti: str) -> bool:
        return await self._cache().aget(self.prefix + jti) is not None


class DjangoORMRevocation(RevocationStore):
    """Revocations in the database (``django_bolt.RevokedToken``; run ``migrate``),
    checked in Python. ``purge()`` deletes rows of tokens that have expired."""

    def _model(self) -> Any:
        from ..models import RevokedToken

        return RevokedToken

    def revoke(self, jti: str, expires_at: float | None = None) -> None:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(_expiry(expires_at), tz=UTC)
        self._model().objects.update_or_create(jti=jti, defaults={"expires_at": when})

    def is_revoked(self, jti: str) -> bool:
        return self._model().objects.filter(jti=jti).exists()

    async def arevoke(self, jti: str, expires_at: float | None = None) -> None:
        from datetime import UTC, datetime

        when = datetime.fromtimestamp(_expiry(expires_at), tz=UTC)
        await self._model().objects.aupdate_or_create(jti=jti, defaults={"expires_at": when})

    async def ais_revoked(self, jti: str) -> bool:
        return await self._model().objects.filter(jti=jti).aexists()

    def purge(self) -> int:
        from django.utils import timezone

        deleted, _ = self._model().objects.filter(expires_at__lt=timezone.now()).delete()
        return deleted
