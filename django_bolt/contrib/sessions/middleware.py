"""Django sessions for API requests: ``request.session`` is loaded from the session
cookie on first use and saved after the handler, as Django's SessionMiddleware does."""

from __future__ import annotations

import time
from importlib import import_module
from typing import Any


def load_session(cookies: dict[str, str]) -> Any:
    from django.conf import settings

    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(cookies.get(settings.SESSION_COOKIE_NAME))


def needs_save(session: Any, status: int) -> bool:
    from django.conf import settings

    if status >= 500 or session.is_empty():
        return False
    return bool(session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


def cookie_headers(session: Any, cookies: dict[str, str], status: int) -> list[tuple[str, str]]:
    """The Set-Cookie / Vary headers for the response (after any save)."""
    from http.cookies import SimpleCookie

    from django.conf import settings
    from django.utils.http import http_date

    name = settings.SESSION_COOKIE_NAME
    cookie: SimpleCookie = SimpleCookie()
    headers: list[tuple[str, str]] = []
    if name in cookies and session.is_empty():
        cookie[name] = ""
        morsel = cookie[name]
        morsel["max-age"] = 0
        morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        morsel["path"] = settings.SESSION_COOKIE_PATH
        if settings.SESSION_COOKIE_DOMAIN:
            morsel["domain"] = settings.SESSION_COOKIE_DOMAIN
        if settings.SESSION_COOKIE_SAMESITE:
            morsel["samesite"] = settings.SESSION_COOKIE_SAMESITE
        headers.append(("set-cookie", morsel.OutputString()))
        headers.append(("vary", "Cookie"))
        return headers
    if session.accessed:
        headers.append(("vary", "Cookie"))
    if needs_save(session, status) and session.session_key:
        cookie[name] = session.session_key
        morsel = cookie[name]
        if not session.get_expire_at_browser_close():
            max_age = session.get_expiry_age()
            morsel["max-age"] = max_age
            morsel["expires"] = http_date(time.time() + max_age)
        morsel["path"] = settings.SESSION_COOKIE_PATH
        if settings.SESSION_COOKIE_DOMAIN:
            morsel["domain"] = settings.SESSION_COOKIE_DOMAIN
        if settings.SESSION_COOKIE_SECURE:
            morsel["secure"] = True
        if settings.SESSION_COOKIE_HTTPONLY:
            morsel["httponly"] = True
        if settings.SESSION_COOKIE_SAMESITE:
            morsel["samesite"] = settings.SESSION_COOKIE_SAMESITE
        headers.append(("set-cookie", morsel.OutputString()))
    return headers


def csrf_cookie_headers(request: Any) -> list[tuple[str, str]]:
    """The CSRF cookie after ``alogin`` rotated the token (what CsrfViewMiddleware would
    set), so a client can send it back as ``X-CSRFToken``."""
    from http.cookies import SimpleCookie

    from django.conf import settings

    meta = request.META
    if not meta.get("CSRF_COOKIE_NEEDS_UPDATE") or not meta.get("CSRF_COOKIE"):
        return []
    if settings.CSRF_USE_SESSIONS:
        return []
    cookie: SimpleCookie = SimpleCookie()
    cookie[settings.CSRF_COOKIE_NAME] = meta["CSRF_COOKIE"]
    morsel = cookie[settings.CSRF_COOKIE_NAME]
    if settings.CSRF_COOKIE_AGE is not None:
        morsel["max-age"] = settings.CSRF_COOKIE_AGE
    morsel["path"] = settings.CSRF_COOKIE_PATH
    if settings.CSRF_COOKIE_DOMAIN:
        morsel["domain"] = settings.CSRF_COOKIE_DOMAIN
    if settings.CSRF_COOKIE_SECURE:
        morsel["secure"] = True
    if settings.CSRF_COOKIE_HTTPONLY:
        morsel["httponly"] = True
    if settings.CSRF_COOKIE_SAMESITE:
        morsel["samesite"] = settings.CSRF_COOKIE_SAMESITE
    meta["CSRF_COOKIE_NEEDS_UPDATE"] = False
    return [("set-cookie", morsel.OutputString())]


def finish_sync(request: Any, status: int) -> list[tuple[str, str]]:
    session = request.loaded_session
    if session is None:
        return []
    if needs_save(session, status):
        session.save()
    return cookie_headers(session, request.cookies, status) + csrf_cookie_headers(request)


async def finish_async(request: Any, status: int) -> list[tuple[str, str]]:
    session = request.loaded_session
    if session is None:
        return []
    if needs_save(session, status):
        await session.asave()
    return cookie_headers(session, request.cookies, status) + csrf_cookie_headers(request)
