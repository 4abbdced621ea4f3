"""The Python half of a route's authentication: backends that need Python (sessions,
custom ``BaseAuth``), revocation stores kept in Django, and guards that need Django's
permission system or user code. Runs only for requests Rust marks as pending."""

from __future__ import annotations

import inspect
from typing import Any

from ..http.errors import HTTPException
from .backends import BaseAuth, JWTAuthentication
from .guards import AllowAny, BaseGuard


class Gate:
    def __init__(self, auth: list[BaseAuth], guards: list[BaseGuard], challenge: str) -> None:
        self.python_backends = [a for a in auth if not a.runs_in_rust]
        self.revocations = [
            a.revocation
            for a in auth
            if isinstance(a, JWTAuthentication)
            and a.revocation is not None
            and a.revocation.rust_backend() is None
        ]
        self.guards = guards
        self.challenge = challenge

    def unauthorized(self, detail: str) -> HTTPException:
        return HTTPException(401, detail, headers={"WWW-Authenticate": self.challenge})

    async def run(self, request: Any) -> None:
        """Authenticates and applies the guards; raises 401 / 403 to refuse."""
        context = request.context
        backend = context.get("auth_backend") if context else None
        failure: str | None = None
        if backend == "jwt" and self.revocations:
            jti = context.get("jti")
            for store in self.revocations:
                if not jti or await store.ais_revoked(str(jti)):
                    failure = (
                        "Token has been revoked"
                        if jti
                        else "Token has no jti claim, which revocation requires"
                    )
                    request.context = {}
                    backend = None
                    break
        if backend is None:
            for auth in self.python_backends:
                result = auth.authenticate(request)
                if inspect.isawaitable(result):
                    result = await result
                if result is None or not result.is_authenticated:
                    continue
                user = result.user
                request.user = user
                request.context = {
                    "auth_backend": result.backend
                    if result.backend != "custom"
                    else auth.backend_name,
                    "user_id": None if getattr(user, "pk", None) is None else str(user.pk),
                    "is_staff": bool(getattr(user, "is_staff", False)),
                    "is_superuser": bool(getattr(user, "is_superuser", False)),
                    **result.context,
                }
                backend = request.context["auth_backend"]
                break
        for guard in self.guards:
            if isinstance(guard, AllowAny):
                continue
            if guard.requires_authentication and backend is None:
                raise self.unauthorized(failure or "Authentication credentials were not provided")
            detail = await guard.denial(request)
            if detail is not None:
                raise HTTPException(403, detail)
