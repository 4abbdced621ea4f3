"""Guards: who may call a route.

The built-in guards compile to Rust and are decided there from the credential's claims
(permissions, staff, superuser and roles embedded at token creation), before any Python
runs. A token that leaves a grant out (no ``permissions`` claim, say, as
``create_jwt_for_user(user)`` issues by default) is decided from Django's own permission
tables and groups for the token's user instead, as are users authenticated in Python
(sessions, custom backends). Subclass ``BaseGuard`` and implement ``check(request)``
(async or sync) for anything else; it runs in Python after the Rust guards pass.

Guards may be given as classes or instances: ``guards=[IsAuthenticated]`` and
``guards=[IsAuthenticated()]`` are the same.
"""

from __future__ import annotations

import inspect
from typing import Any


class BaseGuard:
    """A permission check. ``check(request)`` returns True to allow; False answers 403
    with ``message``; raising an ``HTTPException`` answers with that instead."""

    message = "Permission denied"
    #: Anonymous requests are answered 401 (not 403) before ``check`` runs.
    requires_authentication = False

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "python"}

    def check(self, request: Any) -> Any:
        has_permission = getattr(self, "has_permission", None)
        if has_permission is not None:
            return has_permission(request)
        # Unreachable for registered routes: as_guard() refuses such guards at start-up.
        raise TypeError(f"{type(self).__name__} must implement check(request)")

    def validate(self) -> None:
        """Refuses, at start-up, a custom guard that decides nothing."""
        cls = type(self)
        decides = (
            cls.check is not BaseGuard.check
            or cls.allows is not BaseGuard.allows
            or cls.denial is not BaseGuard.denial
            or hasattr(self, "has_permission")
        )
        if not decides:
            raise TypeError(f"{cls.__name__} must implement check(request)")

    async def allows(self, request: Any) -> bool:
        result = self.check(request)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    async def denial(self, request: Any) -> str | None:
        """None when the request may pass, else the 403 detail."""
        return None if await self.allows(request) else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _context(request: Any) -> dict[str, Any]:
    return request.context or {}


def _from_credential(request: Any) -> bool:
    """True when Rust authenticated the request (a token or API key, not a user)."""
    return _context(request).get("auth_backend") in ("jwt", "api_key")


def _stated(request: Any, *claims: str) -> bool:
    """True when the credential states the grant itself: an API key always; a token when
    it carries one of ``claims`` (else its user's grants come from Django)."""
    ctx = _context(request)
    if ctx.get("auth_backend") != "jwt":
        return True
    raw = ctx.get("claims")
    if raw is None:
        return True
    return any(name in raw for name in claims)


async def _user_of(request: Any) -> Any:
    """The request's Django user: loaded once per request for a token (``auser``)."""
    if _from_credential(request):
        auser = getattr(request, "auser", None)
        return await auser() if auser is not None else None
    return getattr(request, "_user", None)


async def _user_has_perm(user: Any, perm: str) -> bool:
    if user is None or not getattr(user, "is_active", True):
        return False
    ahas_perm = getattr(user, "ahas_perm", None)
    if ahas_perm is not None:
        return bool(await ahas_perm(perm))
    from asgiref.sync import sync_to_async

    return bool(await sync_to_async(user.has_perm)(perm))


def _active(user: Any, flag: str) -> bool:
    return bool(getattr(user, "is_active", True) and getattr(user, flag, False))


class AllowAny(BaseGuard):
    """Everyone, authenticated or not."""

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "allow_any"}

    async def allows(self, request: Any) -> bool:
        return True


class IsAuthenticated(BaseGuard):
    """Any authenticated request (401 otherwise)."""

    requires_authentication = True

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "authenticated"}

    async def allows(self, request: Any) -> bool:
        return True


class IsAdminUser(BaseGuard):
    """Superusers only."""

    requires_authentication = True
    message = "Superuser access required"

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "superuser"}

    async def allows(self, request: Any) -> bool:
        if _from_credential(request) and (
            _context(request).get("is_superuser") or _stated(request, "is_superuser")
        ):
            return bool(_context(request).get("is_superuser"))
        return _active(await _user_of(request), "is_superuser")


class IsStaff(BaseGuard):
    """Staff users (and superusers)."""

    requires_authentication = True
    message = "Staff access required"

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "staff"}

    async def allows(self, request: Any) -> bool:
        ctx = _context(request)
        if _from_credential(request):
            if ctx.get("is_staff") or ctx.get("is_superuser"):
                return True
            if _stated(request, "is_staff"):
                return False
        user = await _user_of(request)
        return _active(user, "is_staff") or _active(user, "is_superuser")


class _PermissionGuard(BaseGuard):
    requires_authentication = True
    kind = ""

    def __init__(self, *permissions: str) -> None:
        flat: list[str] = []
        for p in permissions:
            flat.extend([p] if isinstance(p, str) else list(p))
        if not flat:
            raise ValueError(f"{type(self).__name__} needs at least one permission")
        self.permissions = flat

    def to_spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "values": self.permissions}

    async def _has(self, request: Any, perm: str) -> bool:
        if _from_credential(request):
            ctx = _context(request)
            granted = ctx.get("permissions") or []
            if ctx.get("is_superuser") or perm in granted or "*" in granted:
                return True
            if _stated(request, "permissions", "perms"):
                return False
        return await _user_has_perm(await _user_of(request), perm)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.permissions))})"


class HasAllPermissions(_PermissionGuard):
    """Every one of the permissions (``"app_label.codename"``)."""

    kind = "all_permissions"

    async def denial(self, request: Any) -> str | None:
        for perm in self.permissions:
            if not await self._has(request, perm):
                return f'Permission "{perm}" required'
        return None

    async def allows(self, request: Any) -> bool:
        return await self.denial(request) is None


class HasPermission(HasAllPermissions):
    """``HasPermission("blog.change_post")``: one permission (several means all)."""


class HasAnyPermission(_PermissionGuard):
    """At least one of the permissions."""

    kind = "any_permission"

    def __init__(self, *permissions: str) -> None:
        super().__init__(*permissions)
        self.message = (
            "One of the permissions "
            + " or ".join(f'"{p}"' for p in self.permissions)
            + " required"
        )

    async def allows(self, request: Any) -> bool:
        for perm in self.permissions:
            if await self._has(request, perm):
                return True
        return False


class HasRole(BaseGuard):
    """One of the roles: the token's ``roles`` / ``role`` claim, or for session users the
    names of their Django groups."""

    requires_authentication = True

    def __init__(self, *roles: str) -> None:
        if not roles:
            raise ValueError("HasRole needs at least one role")
        self.roles = list(roles)
        self.message = "Role " + " or ".join(f'"{r}"' for r in self.roles) + " required"

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "any_role", "values": self.roles}

    async def allows(self, request: Any) -> bool:
        if _from_credential(request) and _stated(request, "roles", "role"):
            granted = _context(request).get("roles") or []
            return any(r in granted for r in self.roles)
        user = await _user_of(request)
        if user is None or not getattr(user, "is_active", True):
            return False
        groups = getattr(user, "groups", None)
        if groups is None:
            return False
        return bool(await groups.filter(name__in=self.roles).aexists())

    def __repr__(self) -> str:
        return f"HasRole({', '.join(map(repr, self.roles))})"


class _BackendRequired(IsAuthenticated):
    """Authenticated by one particular backend (``jwt_required``, ``api_key_required``)."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.message = f"{backend} authentication required"

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "backend", "values": [self.backend]}

    async def allows(self, request: Any) -> bool:
        return _context(request).get("auth_backend") == self.backend

    def __repr__(self) -> str:
        return f"{self.backend}_required"


#: Guard: a valid JWT (routes without ``auth=`` get ``JWTAuthentication()``).
jwt_required = _BackendRequired("jwt")
#: Guard: a valid API key (routes without ``auth=`` get ``APIKeyAuthentication()``).
api_key_required = _BackendRequired("api_key")


def as_guard(value: Any) -> BaseGuard:
    if isinstance(value, type) and issubclass(value, BaseGuard):
        value = value()
    if not isinstance(value, BaseGuard):
        raise TypeError(f"{value!r} is not a guard (a BaseGuard subclass or instance)")
    value.validate()
    return value
