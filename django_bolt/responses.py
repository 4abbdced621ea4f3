"""Response classes a handler may return."""

from .http.responses import (
    HTML,
    JSON,
    File,
    FileResponse,
    Html,
    Json,
    PlainText,
    Redirect,
    Response,
    StreamingResponse,
)

__all__ = [
    "Response",
    "JSON",
    "Json",
    "PlainText",
    "HTML",
    "Html",
    "Redirect",
    "File",
    "FileResponse",
    "StreamingResponse",
]
