"""django_bolt: serve a whole Django site from a Rust (Actix Web) server."""

from __future__ import annotations

from .api import BoltAPI  # noqa: E402
from .conf import VERSION as __version__  # noqa: E402
from .http.errors import HTTPException, RequestValidationError  # noqa: E402
from .http.request import Request  # noqa: E402
from .http.responses import HTML, JSON, Html, Json, PlainText, Redirect, Response  # noqa: E402
from .http.uploads import FileSize, UploadFile  # noqa: E402
from .routing.pagination import (  # noqa: E402
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
    paginate,
)
from .routing.params import Body, Cookie, Depends, File, Form, Header, Path, Query  # noqa: E402
from .routing.viewsets import ViewSet, action  # noqa: E402
from .websocket.connection import WebSocket, WebSocketDisconnect, WebSocketState  # noqa: E402

__all__ = [
    "__version__",
    "BoltAPI",
    "Request",
    "Query",
    "Path",
    "Header",
    "Cookie",
    "Body",
    "Depends",
    "Form",
    "File",
    "UploadFile",
    "FileSize",
    "Response",
    "JSON",
    "Json",
    "PlainText",
    "HTML",
    "Html",
    "Redirect",
    "HTTPException",
    "RequestValidationError",
    "PageNumberPagination",
    "LimitOffsetPagination",
    "CursorPagination",
    "paginate",
    "ViewSet",
    "action",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
]
