"""Issuing tokens and finding the user behind a request."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

import msgspec

from .._core import jwt_encode
from ..conf import jwt_algorithm, jwt_expiration, jwt_secret
from ..http.errors import HTTPException
from ..http.user import TokenUser, is_loaded, load_user


def encode_jwt(
    claims: dict[str, Any],
    *,
    secret: str | bytes | None = None,
    algorithm: str | None = None,
) -> str:
    """Signs ``claims`` (HS* with a secret of at least 32 bytes, or RS*/PS*/ES*/EdDSA with a
    PEM private key). Defaults: ``settings.JWT_SECRET_KEY`` (else ``SECRET_KEY``) and
    ``settings.JWT_ALGORITHM`` (else HS256)."""
    key = secret if secret is not None else jwt_secret()
    if not key:
        raise ValueError("no signing key: pass secret=... or set JWT_SECRET_KEY")
    alg = algorithm or jwt_algorithm()
    raw = key.encode() if isinstance(key, str) else bytes(key)
    return jwt_encode(msgspec.json.encode(claims), alg, raw)


def create_jwt_for_user(
    user: Any,
    exp_hours: float | None = None,
    extra_claims: dict[str, Any] | None = None,
    *,
    secret: str | bytes | None = None,
    algorithm: str | None = None,
    permissions: Iterable[str] | None = None,
    roles: Iterable[str] | None = None,
    audience: str | list[str] | None = None,
    issuer: str | None = None,
) -> str:
    """A signed token for ``user``: ``sub`` (the primary key), ``username``, ``is_staff``,
    ``is_superuser``, ``iat``, ``exp`` and a random ``jti`` (for revocation), plus the
    ``permissions`` and ``roles`` given (guards read them without a database query) and
    ``extra_claims``. The lifetime is ``exp_hours``, else ``settings.JWT_EXPIRATION``
    seconds, else 24 hours. Reads no database, so it is safe in async handlers."""
    now = int(time.time())
    if exp_hours is not None:
        lifetime = int(exp_hours * 3600)
    else:
        lifetime = jwt_expiration()
    claims: dict[str, Any] = {
        "sub": str(user.pk),
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "is_staff": bool(getattr(user, "is_staff", False)),
        "is_superuser": bool(getattr(user, "is_superuser", False)),
    }
    username = user.get_username() if hasattr(user, "get_username") else None
    if username is not None:
        claims["username"] = username
    if permissions is not None:
        claims["permissions"] = sorted(set(permissions))
    if roles is not None:
        claims["roles"] = list(roles)
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    if extra_claims:
        claims.update(extra_claims)
    return encode_jwt(claims, secret=secret, algorithm=algorithm)


async def acreate_jwt_for_user(
    user: Any, exp_hours: float | None = None, extra_claims: dict[str, Any] | None = None, **kw: Any
) -> str:
    """``create_jwt_for_user`` that also embeds the user's Django permissions and group
    names (as roles), read with the async ORM."""
    if "permissions" not in kw:
        aget = getattr(user, "aget_all_permissions", None)
        if aget is not None:
            kw["permissions"] = await aget()
        else:
            from asgiref.sync import sync_to_async

            kw["permissions"] = await sync_to_async(user.get_all_permissions)()
    if "roles" not in kw:
        kw["roles"] = [g.name async for g in user.groups.all()]
    return create_jwt_for_user(user, exp_hours, extra_claims, **kw)


def extract_user_id_from_context(request: Any) -> str | None:
    """The authenticated user's id from ``request.context`` (None when anonymous)."""
    context = getattr(request, "context", None)
    if context is None and hasattr(request, "get"):
        context = request.get("context")
    if not context:
        return None
    user_id = context.get("user_id")
    return None if user_id is None else str(user_id)


async def get_current_user(request: Any) -> Any:
    """The Django user behind the request (token subject or session), loaded with the
    async ORM; 401 when there is none. Also works as ``Depends(get_current_user)``."""
    user = getattr(request, "_user", None)
    if user is not None and not isinstance(user, TokenUser) and is_loaded(user):
        if user.is_authenticated:
            return user
    user_id = extract_user_id_from_context(request)
    if user_id is None:
        raise HTTPException(
            401,
            "Authentication credentials were not provided",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = await load_user(user_id)
    if user is None:
        raise HTTPException(401, "User not found", headers={"WWW-Authenticate": "Bearer"})
    request.user = user
    return user
