"""Response types a handler may return instead of plain data."""

from __future__ import annotations

from typing import Any

import msgspec

from ._encoding import json_encode


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
        expires: str | None = None,
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
        if expires is not None:
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


Json = JSON
Html = HTML

__all__ = ["Response", "JSON", "Json", "PlainText", "HTML", "Html", "Redirect", "msgspec"]
