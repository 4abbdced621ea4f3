"""django_bolt: serve a whole Django site from a Rust (Actix Web) server."""

from __future__ import annotations

__version__ = "0.1.0"

from .api import BoltAPI  # noqa: E402
from .exceptions import HTTPException, RequestValidationError  # noqa: E402
from .pagination import (  # noqa: E402
    CursorPagination,
    LimitOffsetPagination,
    PageNumberPagination,
    paginate,
)
from .params import Body, Cookie, Depends, File, Form, Header, Path, Query  # noqa: E402
from .request import Request  # noqa: E402
from .responses import HTML, JSON, Html, Json, PlainText, Redirect, Response  # noqa: E402
from .uploads import FileSize, UploadFile  # noqa: E402
from .views import ViewSet, action  # noqa: E402
from .websocket import WebSocket, WebSocketDisconnect, WebSocketState  # noqa: E402

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
