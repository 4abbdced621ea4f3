"""Alias of :mod:`django_bolt.responses` (both spellings appear in the documentation)."""

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
