"""Authentication backends.

``JWTAuthentication`` and ``APIKeyAuthentication`` compile to Rust and run before any
Python; ``SessionAuthentication`` and ``BaseAuth`` subclasses run in Python, only when
Rust found no identity. Authentication never refuses a request by itself: guards do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..conf import api_keys, jwt_algorithm, jwt_secret, string_list
from ..http.errors import HTTPException


@dataclass
class AuthResult:
    """What a Python backend found: a user (or None) and extra context."""

    user: Any = None
    context: dict[str, Any] = field(default_factory=dict)
    backend: str = "custom"

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None and bool(getattr(self.user, "is_authenticated", True))


class BaseAuth:
    """A Python authentication backend: override ``authenticate(request)`` (async or
    sync) to return an ``AuthResult`` with a user, or None / an empty result."""

    backend_name = "custom"
    #: Compiled to Rust (JWT, API keys) rather than called from Python.
    runs_in_rust = False

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "python"}

    def authenticate(self, request: Any) -> Any:
        # Unreachable for registered routes: as_auth() refuses such backends at start-up.
        raise TypeError(f"{type(self).__name__} must implement authenticate(request)")

    def validate(self) -> None:
        """Refuses, at start-up, a Python backend that does not authenticate."""
        if not self.runs_in_rust and type(self).authenticate is BaseAuth.authenticate:
            raise TypeError(f"{type(self).__name__} must implement authenticate(request)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class JWTAuthentication(BaseAuth):
    """Bearer JWTs validated in Rust.

    ``secret`` is the HMAC secret (at least 32 bytes) or, for RS*/PS*/ES*/EdDSA, the PEM
    public key; it defaults to ``settings.JWT_SECRET_KEY``, then ``SECRET_KEY``.
    ``algorithms`` defaults to ``[settings.JWT_ALGORITHM]`` (HS256). The token is read
    from ``header`` (``Authorization: Bearer ...``), else ``cookie`` when given.
    ``audience`` / ``issuer`` are required claims when set; ``leeway`` is in seconds.
    Tokens must carry ``exp`` unless ``require_exp=False``. ``revocation`` is a store from
    ``django_bolt.auth.revocation``.
    """

    backend_name = "jwt"
    runs_in_rust = True

    def __init__(
        self,
        secret: str | bytes | None = None,
        algorithms: Iterable[str] | str | None = None,
        *,
        algorithm: str | None = None,
        header: str = "authorization",
        scheme: str = "Bearer",
        cookie: str | None = None,
        query: str | None = None,
        audience: str | Iterable[str] | None = None,
        issuer: str | Iterable[str] | None = None,
        leeway: int = 0,
        require_exp: bool = True,
        revocation: Any = None,
        public_key: str | bytes | None = None,
    ) -> None:
        if secret is not None and public_key is not None:
            raise ImproperlyConfigured("give JWTAuthentication either secret or public_key")
        self.secret = public_key if public_key is not None else secret
        if algorithm is not None and algorithms is not None:
            raise ImproperlyConfigured("give JWTAuthentication either algorithm or algorithms")
        self.algorithms = string_list(algorithm if algorithm is not None else algorithms)
        self.header = header
        self.scheme = scheme
        self.cookie = cookie
        self.query = query
        self.audience = string_list(audience)
        self.issuer = string_list(issuer)
        self.leeway = int(leeway)
        self.require_exp = require_exp
        self.revocation = revocation

    def resolved_secret(self) -> bytes:
        secret = self.secret
        if secret is None:
            secret = jwt_secret()
        if not secret:
            raise ImproperlyConfigured(
                "JWTAuthentication has no key: pass secret=... or set JWT_SECRET_KEY"
            )
        return secret.encode() if isinstance(secret, str) else bytes(secret)

    def resolved_algorithms(self) -> list[str]:
        if self.algorithms is not None:
            return self.algorithms
        return [jwt_algorithm()]

    def to_spec(self) -> dict[str, Any]:
        revocation = None
        if self.revocation is not None:
            revocation = self.revocation.rust_backend() or "python"
        return {
            "kind": "jwt",
            "key": self.resolved_secret(),
            "algorithms": self.resolved_algorithms(),
            "header": self.header,
            "scheme": self.scheme,
            "cookie": self.cookie,
            "query": self.query,
            "audience": self.audience,
            "issuer": self.issuer,
            "leeway": self.leeway,
            "require": ["exp"] if self.require_exp else [],
            "revocation": revocation,
        }

    def __repr__(self) -> str:
        return f"JWTAuthentication(algorithms={self.resolved_algorithms()!r})"


class JWTBearer(JWTAuthentication):
    """``JWTBearer(secret_key=...)``: JWTAuthentication under its other name."""

    def __init__(self, secret_key: str | bytes | None = None, **options: Any) -> None:
        if "secret" in options and secret_key is not None:
            raise ImproperlyConfigured("give JWTBearer either secret_key or secret")
        super().__init__(options.pop("secret", secret_key), **options)


def _key_name(key: str) -> str:
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:10]


KeySpec = Iterable[str] | Mapping[str, Any] | Callable[[], Any]


class APIKeyAuthentication(BaseAuth):
    """Static API keys checked in Rust (SHA-256 digests, compared in constant time).

    ``api_keys`` is an iterable of keys, or a mapping ``{key: permissions}`` /
    ``{key: {"name": ..., "permissions": [...]}}``, or a callable returning one (called once
    at start-up); it defaults to ``settings.BOLT_API_KEYS``. ``key_permissions`` adds
    permissions per key. Keys are read from ``header`` (``X-API-Key``); ``scheme`` (such as
    ``Bearer``) is stripped when given. Keys never appear in logs, errors or
    ``request.context`` (which names the key instead).
    """

    backend_name = "api_key"
    runs_in_rust = True

    def __init__(
        self,
        api_keys: KeySpec | None = None,
        *,
        header: str = "x-api-key",
        scheme: str | None = None,
        key_permissions: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        self.api_keys = api_keys
        self.header = header
        self.scheme = scheme or ""
        self.key_permissions = dict(key_permissions or {})
        self._loaded: Any = None

    def resolved_keys(self) -> list[tuple[str, str, list[str]]]:
        source = self.api_keys if self.api_keys is not None else api_keys()
        if callable(source):
            # Called once, however many routes share this backend.
            if self._loaded is None:
                self._loaded = source()
            source = self._loaded
        entries: dict[str, tuple[str, list[str]]] = {}
        if isinstance(source, Mapping):
            for key, value in source.items():
                if isinstance(value, Mapping):
                    name = str(value.get("name") or _key_name(key))
                    perms = list(value.get("permissions", ()))
                else:
                    name, perms = _key_name(key), list(string_list(value) or [])
                entries[str(key)] = (name, perms)
        elif source:
            for key in source:
                entries[str(key)] = (_key_name(str(key)), [])
        for key, perms in self.key_permissions.items():
            name, existing = entries.get(key, (_key_name(key), []))
            entries[key] = (name, existing + list(perms))
        if not entries:
            raise ImproperlyConfigured(
                "APIKeyAuthentication has no keys: pass api_keys=... or set BOLT_API_KEYS"
            )
        if any(not key for key in entries):
            raise ImproperlyConfigured("APIKeyAuthentication was given an empty key")
        return [(key, name, perms) for key, (name, perms) in entries.items()]

    def to_spec(self) -> dict[str, Any]:
        return {
            "kind": "api_key",
            "keys": self.resolved_keys(),
            "header": self.header,
            "scheme": self.scheme,
        }

    def __repr__(self) -> str:
        return f"APIKeyAuthentication(header={self.header!r})"


class APIKeyBearer(APIKeyAuthentication):
    """API keys sent as ``Authorization: Bearer <key>``."""

    def __init__(self, api_keys: KeySpec | None = None, **options: Any) -> None:
        options.setdefault("header", "authorization")
        options.setdefault("scheme", "Bearer")
        super().__init__(api_keys, **options)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class SessionAuthentication(BaseAuth):
    """The user of Django's session cookie (Django's session engine and auth backends),
    so handlers can use ``alogin`` / ``alogout``. Runs in Python.

    A cookie is sent by the browser on cross-site requests too, so writes (POST, PUT,
    PATCH, DELETE) authenticated by the session must pass Django's CSRF check (the
    ``X-CSRFToken`` header or ``csrfmiddlewaretoken`` field, and for HTTPS the Origin);
    a failure answers 403. ``enforce_csrf=False`` turns that off."""

    backend_name = "session"

    def __init__(self, *, enforce_csrf: bool = True) -> None:
        self.enforce_csrf = enforce_csrf

    async def authenticate(self, request: Any) -> AuthResult | None:
        user = await request.auser()
        if user is None or not user.is_authenticated:
            return None
        if self.enforce_csrf and request.method not in SAFE_METHODS:
            from asgiref.sync import sync_to_async

            reason = await sync_to_async(csrf_failure)(request)
            if reason is not None:
                raise HTTPException(403, f"CSRF Failed: {reason}")
        return AuthResult(user=user, backend="session")


def csrf_failure(request: Any) -> str | None:
    """Why Django's CSRF check refuses this request, or None when it passes."""
    from django.middleware.csrf import CsrfViewMiddleware

    class Check(CsrfViewMiddleware):
        def _reject(self, request: Any, reason: str) -> Any:
            return reason

    dj = request.django_request
    check = Check(lambda r: None)
    check.process_request(dj)
    return check.process_view(dj, lambda r: None, (), {})
