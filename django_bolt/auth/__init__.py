"""Authentication and guards. JWT and API-key authentication and the built-in guards run
in Rust before any Python; sessions and custom backends and guards run in Python."""

from ..middleware.decorators import cors, rate_limit, skip_middleware
from .backends import (
    APIKeyAuthentication,
    APIKeyBearer,
    AuthResult,
    BaseAuth,
    JWTAuthentication,
    JWTBearer,
    SessionAuthentication,
)
from .guards import (
    AllowAny,
    BaseGuard,
    HasAllPermissions,
    HasAnyPermission,
    HasPermission,
    HasRole,
    IsAdminUser,
    IsAuthenticated,
    IsStaff,
    api_key_required,
    jwt_required,
)
from .revocation import (
    DjangoCacheRevocation,
    DjangoORMRevocation,
    InMemoryRevocation,
    RedisRevocation,
    RevocationStore,
)
from .tokens import (
    TokenUser,
    acreate_jwt_for_user,
    create_jwt_for_user,
    encode_jwt,
    extract_user_id_from_context,
    get_current_user,
)

__all__ = [
    "APIKeyAuthentication",
    "APIKeyBearer",
    "AllowAny",
    "AuthResult",
    "BaseAuth",
    "BaseGuard",
    "DjangoCacheRevocation",
    "DjangoORMRevocation",
    "HasAllPermissions",
    "HasAnyPermission",
    "HasPermission",
    "HasRole",
    "InMemoryRevocation",
    "IsAdminUser",
    "IsAuthenticated",
    "IsStaff",
    "JWTAuthentication",
    "JWTBearer",
    "RedisRevocation",
    "RevocationStore",
    "SessionAuthentication",
    "TokenUser",
    "acreate_jwt_for_user",
    "api_key_required",
    "cors",
    "create_jwt_for_user",
    "encode_jwt",
    "extract_user_id_from_context",
    "get_current_user",
    "jwt_required",
    "rate_limit",
    "skip_middleware",
]
