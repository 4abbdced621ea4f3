"""Response types a handler may return instead of plain data."""

from __future__ import annotations

import datetime
from typing import Any

from .encoding import json_encode


class Response:
    """Raw response: ``content`` (bytes, str or JSON-encodable data), status and headers."""

    media_type: str | None = None

    def __init__(
        self,
        content: Any = b"",
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.content = content
        self.status_code = int(status_code)
        self.headers = dict(headers or {})
        if media_type is not None:
            self.media_type = media_type
        self._cookies: list[str] = []

    def render(self) -> bytes:
        content = self.content
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode()
        return json_encode(content)

    def set_cookie(
        self,
        key: str,
        value: str = "",
        max_age: int | None = None,
        expires: str | datetime.datetime | None = None,
        path: str = "/",
        domain: str | None = None,
        secure: bool = False,
        httponly: bool = False,
        samesite: str | None = "Lax",
    ) -> None:
        from http.cookies import SimpleCookie

        cookie: SimpleCookie = SimpleCookie()
        cookie[key] = value
        morsel = cookie[key]
        if max_age is not None:
            morsel["max-age"] = str(int(max_age))
        if isinstance(expires, datetime.datetime):
            from django.utils.http import http_date

            # As Django does: an aware datetime, or a naive one taken as UTC.
            when = expires if expires.tzinfo else expires.replace(tzinfo=datetime.UTC)
            morsel["expires"] = http_date(when.timestamp())
        elif expires is not None:
            morsel["expires"] = expires
        morsel["path"] = path
        if domain:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite:
            morsel["samesite"] = samesite
        self._cookies.append(morsel.OutputString())

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None) -> None:
        self.set_cookie(
            key, "", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT", path=path, domain=domain
        )

    def header_list(self) -> list[tuple[str, str]]:
        headers = [(k, str(v)) for k, v in self.headers.items()]
        headers.extend(("set-cookie", c) for c in self._cookies)
        return headers


class JSON(Response):
    media_type = "application/json"

    def render(self) -> bytes:
        return json_encode(self.content)


class PlainText(Response):
    media_type = "text/plain; charset=utf-8"


class HTML(Response):
    media_type = "text/html; charset=utf-8"


class Redirect(Response):
    def __init__(
        self,
        url: str,
        status: int = 302,
        headers: dict[str, str] | None = None,
        *,
        status_code: int | None = None,
    ) -> None:
        super().__init__(b"", status_code if status_code is not None else status, headers)
        self.headers["location"] = url
        self.url = url


class File(Response):
    """An in-memory download: ``File(content, filename="report.csv")``."""

    def __init__(
        self,
        content: bytes | str,
        filename: str,
        content_type: str | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        *,
        media_type: str | None = None,
        disposition: str = "attachment",
    ) -> None:
        import mimetypes

        media = media_type or content_type or mimetypes.guess_type(filename)[0]
        super().__init__(content, status_code, headers, media or "application/octet-stream")
        self.filename = filename
        self.headers["content-disposition"] = _disposition(disposition, filename)


class FileResponse(Response):
    """A file streamed from disk by the Rust server, with Content-Disposition,
    ETag / Last-Modified and Range (206) support.

    ``filename`` names the download (``Content-Disposition: attachment``); without it the
    file is sent ``inline`` under its own name. The content type is guessed from the
    name unless given. With ``root``, ``path`` is taken relative to that directory and
    must stay inside it once ``..`` and symbolic links are resolved: anything else is a
    404, so a path from the URL cannot reach other files.
    """

    def __init__(
        self,
        path: Any,
        filename: str | None = None,
        content_type: str | None = None,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        *,
        media_type: str | None = None,
        disposition: str | None = None,
        root: Any = None,
    ) -> None:
        import os

        super().__init__(b"", status_code, headers, media_type or content_type)
        self.root = os.fspath(root) if root is not None else None
        # None: the path leaves `root`, answered as a missing file.
        self.path: str | None = os.fspath(path)
        if self.root is not None:
            self.path = resolve_inside(self.root, self.path)
        self.filename = filename
        self.disposition = disposition or ("attachment" if filename else "inline")
        if self.disposition not in ("attachment", "inline"):
            raise ValueError("disposition must be 'attachment' or 'inline'")


class StreamingResponse(Response):
    """A body produced piece by piece by an iterator or async iterator (a generator).

    Items may be ``bytes``, ``str``, or ``dict``: a dict is one Server-Sent Event
    (``{"event": ..., "data": ..., "id": ..., "retry": ...}``, non-string data as JSON)
    and makes ``text/event-stream`` the default media type. Other objects are sent as
    one JSON document per line. A client that disconnects stops the generator: it is
    closed (its ``finally`` blocks run) at its next ``yield`` or ``await``.
    """

    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        super().__init__(b"", status_code, headers, media_type)
        if not (hasattr(content, "__aiter__") or hasattr(content, "__iter__")):
            raise TypeError("StreamingResponse needs an iterator or an async iterator")
        if isinstance(content, (bytes, str, dict)):
            raise TypeError("StreamingResponse needs an iterator of chunks, not a single value")
        self.content = content

    @property
    def is_async(self) -> bool:
        return hasattr(self.content, "__aiter__")


def resolve_inside(root: str, path: str) -> str | None:
    """``root``/``path`` with links and ``..`` resolved, or None when that leaves root."""
    import os

    if "\x00" in path:
        return None
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, path.lstrip("/")))
    if target != base and not target.startswith(base + os.sep):
        return None
    return target


def sse_event(item: dict[str, Any]) -> str:
    lines = []
    if "comment" in item:
        lines.extend(f": {line}" for line in str(item["comment"]).splitlines() or [""])
    for key in ("id", "event", "retry"):
        if item.get(key) is not None:
            lines.append(f"{key}: {item[key]}")
    if "data" in item:
        data = item["data"]
        if not isinstance(data, str):
            data = json_encode(data).decode()
        lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def encode_chunk(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, dict):
        return sse_event(item).encode()
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    return json_encode(item) + b"\n"


def _disposition(kind: str, filename: str) -> str:
    from urllib.parse import quote

    if kind not in ("attachment", "inline"):
        raise ValueError("disposition must be 'attachment' or 'inline'")
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    value = f'{kind}; filename="{ascii_name}"'
    if ascii_name != filename:
        value += f"; filename*=UTF-8''{quote(filename)}"
    return value


Json = JSON
Html = HTML

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
