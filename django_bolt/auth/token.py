"""Signing and checking tokens in Python: ``encode_jwt`` and ``decode_jwt``, for refresh
endpoints, tokens handed to other services, and tests. ``JWTAuthentication`` checks the
tokens of requests in Rust; ``decode_jwt`` applies the same checks."""

from __future__ import annotations

from typing import Any

import msgspec

from .._core import jwt_decode
from ..conf import jwt_algorithm, jwt_secret, string_list
from .tokens import create_jwt_for_user, encode_jwt

__all__ = ["InvalidToken", "create_jwt_for_user", "decode_jwt", "encode_jwt"]


class InvalidToken(ValueError):
    """A token ``decode_jwt`` refuses; the message says why ("token has expired")."""


def decode_jwt(
    token: str,
    *,
    secret: str | bytes | None = None,
    algorithms: list[str] | str | None = None,
    audience: str | list[str] | None = None,
    issuer: str | list[str] | None = None,
    leeway: int = 0,
) -> dict[str, Any]:
    """The claims of ``token`` once its signature, algorithm and ``exp`` (required),
    ``nbf``, and ``aud`` / ``iss`` when given, check out; else ``InvalidToken``.
    Defaults: ``settings.JWT_SECRET_KEY`` (else ``SECRET_KEY``, or the PEM public key for
    RS*/PS*/ES*/EdDSA) and ``[settings.JWT_ALGORITHM]``."""
    key = secret if secret is not None else jwt_secret()
    if not key:
        raise ValueError("no verification key: pass secret=... or set JWT_SECRET_KEY")
    raw = key.encode() if isinstance(key, str) else bytes(key)
    claims, reason = jwt_decode(
        token,
        string_list(algorithms) or [jwt_algorithm()],
        raw,
        string_list(audience),
        string_list(issuer),
        int(leeway),
    )
    if claims is None:
        raise InvalidToken(reason or "invalid token")
    return msgspec.json.decode(claims)
