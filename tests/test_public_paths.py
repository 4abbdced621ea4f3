"""Every documented import path keeps working: each face imports and exports what its
``__all__`` names, and the names the documentation and the seeds import are there."""

from __future__ import annotations

import importlib

import pytest

DOCUMENTED = {
    "django_bolt": ["BoltAPI", "Request", "Query", "Depends", "UploadFile", "ViewSet", "WebSocket"],
    "django_bolt.api": ["BoltAPI"],
    "django_bolt.auth": ["JWTAuthentication", "IsAuthenticated", "create_jwt_for_user", "cors"],
    "django_bolt.exceptions": ["HTTPException", "BadRequest", "exception_handler"],
    "django_bolt.error_handlers": ["handle_exception", "http_exception_handler"],
    "django_bolt.params": ["Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends"],
    "django_bolt.param_functions": ["Query", "Depends"],
    "django_bolt.responses": ["JSON", "PlainText", "HTML", "Redirect", "FileResponse"],
    "django_bolt.response": ["JSON", "StreamingResponse"],
    "django_bolt.views": ["ViewSet", "ModelViewSet", "action"],
    "django_bolt.serializers": ["ModelSerializer", "Serializer", "ValidationError"],
    "django_bolt.errors": ["ApiError"],
    "django_bolt.cache": ["cache_page"],
    "django_bolt.bootstrap": ["ensure_django_ready"],
    "django_bolt.cli": ["main"],
    "django_bolt.http": ["HttpRequest", "JsonResponse"],
    "django_bolt.utils.decorators": ["json_response"],
    "django_bolt.auth.jwt_utils": ["create_jwt_for_user", "get_current_user"],
    "django_bolt.auth.token": ["encode_jwt", "decode_jwt", "InvalidToken"],
    "django_bolt.auth.middleware": ["cors", "rate_limit", "skip_middleware", "middleware"],
    "django_bolt.pagination": ["PageNumberPagination", "CursorPagination", "paginate"],
    "django_bolt.middleware": ["CORSMiddleware", "RateLimitMiddleware", "rate_limit", "middleware"],
    "django_bolt.openapi": ["OpenAPIInfo"],
    "django_bolt.test": ["AsyncAPITestClient"],
    "django_bolt.testing": ["TestClient", "AsyncTestClient", "run_bolt"],
    "django_bolt.websocket": ["WebSocket", "WebSocketDisconnect", "WebSocketState", "GroupError"],
    "django_bolt.groups": ["GroupError", "group_send", "group_send_sync"],
    "django_bolt.request": ["Request"],
    "django_bolt.uploads": ["UploadFile", "FileSize"],
}


@pytest.mark.parametrize("path", sorted(DOCUMENTED))
def test_documented_path_exports_its_names(path: str) -> None:
    module = importlib.import_module(path)
    exported = getattr(module, "__all__", None)
    assert exported, f"{path} has no __all__"
    missing = [n for n in [*exported, *DOCUMENTED[path]] if not hasattr(module, n)]
    assert missing == []
    assert set(DOCUMENTED[path]) <= set(exported) | {"__version__"}
