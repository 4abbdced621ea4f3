"""What docs/routing.md promises that no other test checked:

- ``cache_page``: rate limits, CORS and authentication apply to every request, hits
  included (a guard still refuses a request whose answer is kept; CORS headers are
  computed for each hit's own origin);
- ``cache_page`` keeps nothing whose handler used Django's request, nor an answer whose
  ``Cache-Control`` says ``no-cache``;
- ``api.urls`` served by Django's own handler (runserver, gunicorn) keeps nothing;
- ``File()`` constraint violations are 422s at ``"loc": ["form", name]`` (whole details);
- ``Response.set_cookie(expires=, domain=, secure=)``: the ``Set-Cookie`` header exactly.
"""

import time
from typing import Annotated

import pytest
from django.test import Client
from django.urls import path

from django_bolt import BoltAPI, File, FileSize, Request, UploadFile
from django_bolt.auth import BaseGuard, IsAuthenticated, JWTAuthentication, encode_jwt
from django_bolt.cache import cache_page
from django_bolt.middleware import cors
from django_bolt.responses import JSON
from django_bolt.testing import TestClient
from tests.conftest import answer

SECRET = "routing-gaps-secret-long-enough-0123456789"
ORIGINS = ["https://one.example", "https://two.example"]
calls: dict[str, int] = {}


def counted(name: str) -> int:
    calls[name] = calls.get(name, 0) + 1
    return calls[name]


def bearer(sub: str, **claims) -> dict[str, str]:
    token = encode_jwt({"sub": sub, "exp": int(time.time()) + 300, **claims}, secret=SECRET)
    return {"Authorization": f"Bearer {token}"}


class TicketGuard(BaseGuard):
    """A custom guard: the request must carry ``X-Ticket: valid``."""

    message = "A valid ticket is required"

    async def check(self, request) -> bool:
        return request.headers.get("x-ticket") == "valid"


api = BoltAPI()


@api.get("/ticketed", guards=[TicketGuard()])
@cache_page(60)
async def ticketed():
    return {"call": counted("ticketed")}


@api.get("/members", auth=[JWTAuthentication(secret=SECRET)], guards=[IsAuthenticated])
@cache_page(60, per_user=True)
async def members(request: Request):
    return {"sub": request.context["sub"], "call": counted("members")}


@api.get("/shared-report")
@cors(origins=ORIGINS)
@cache_page(60)
async def shared_report():
    return {"call": counted("shared-report")}


@api.get("/uses-django-request")
@cache_page(60)
async def uses_django_request(request: Request):
    agent = request.django_request.META.get("HTTP_USER_AGENT", "")
    return {"agent": agent, "call": counted("uses-django-request")}


@api.get("/no-cache")
@cache_page(60)
async def no_cache():
    return JSON({"call": counted("no-cache")}, headers={"Cache-Control": "no-cache"})


@api.get("/kept-for-comparison")
@cache_page(60)
async def kept_for_comparison():
    return {"call": counted("kept-for-comparison")}


@api.post("/avatar")
async def avatar(
    picture: Annotated[
        UploadFile,
        File(max_size=FileSize.KB_1, min_size=10, allowed_types=["image/*"]),
    ],
):
    return {"filename": picture.filename}


@api.post("/attachments")
async def attachments(files: Annotated[list[UploadFile], File(max_files=2)]):
    return {"count": len(files)}


@api.get("/cookies")
async def cookies():
    response = JSON({"ok": True})
    response.set_cookie(
        "remember",
        "yes",
        expires="Tue, 04 Mar 2031 05:06:07 GMT",
        domain="example.com",
        secure=True,
    )
    return response


#: ``api.urls`` mounted at the root, for Django's own handler (runserver, gunicorn).
urlpatterns = [path("", api.urls)]


@pytest.fixture(autouse=True)
def fresh_cache():
    from django.core.cache import cache

    cache.clear()
    calls.clear()


@pytest.fixture
def client():
    with TestClient(api) as c:
        yield c


# -- cache_page: gates on every request, hits included -------------------------------------


def test_a_custom_guard_refuses_a_request_whose_answer_is_kept(client):
    """routing.md: "Rate limits, CORS and authentication still apply to every request, hits
    included." An answer kept for the ticket holder is not served to a caller without one."""
    ticket = {"X-Ticket": "valid"}
    assert answer(client.get("/ticketed", headers=ticket)) == (200, {"call": 1})
    assert answer(client.get("/ticketed", headers=ticket)) == (200, {"call": 1})  # kept
    refused = client.get("/ticketed")
    assert answer(refused) == (403, {"detail": "A valid ticket is required"})
    refused = client.get("/ticketed", headers={"X-Ticket": "forged"})
    assert answer(refused) == (403, {"detail": "A valid ticket is required"})
    assert calls["ticketed"] == 1


def test_authentication_still_refuses_on_a_route_whose_answers_are_kept(client):
    """routing.md: authentication applies to every request, hits included: a kept
    per-user answer is never a way round a missing, expired or forged token."""
    assert answer(client.get("/members", headers=bearer("7"))) == (200, {"sub": "7", "call": 1})
    before = client.handed_over
    assert answer(client.get("/members", headers=bearer("7"))) == (200, {"sub": "7", "call": 1})
    assert client.handed_over == before
    missing = client.get("/members")
    assert answer(missing) == (401, {"detail": "Authentication credentials were not provided"})
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'
    expired = client.get("/members", headers=bearer("7", exp=int(time.time()) - 60))
    assert answer(expired) == (401, {"detail": "Token has expired"})
    forged = encode_jwt({"sub": "7", "exp": int(time.time()) + 300}, secret="x" * 40)
    refused = client.get("/members", headers={"Authorization": f"Bearer {forged}"})
    assert answer(refused) == (401, {"detail": "Invalid token signature"})
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert calls["members"] == 1


def test_cors_headers_are_computed_for_each_hit(client):
    """routing.md: CORS still applies to every request, hits included: each hit carries
    the Allow-Origin of its own request's origin, none for an unlisted one."""
    first = client.get("/shared-report", headers={"Origin": ORIGINS[0]})
    assert answer(first) == (200, {"call": 1})
    assert first.headers["access-control-allow-origin"] == ORIGINS[0]
    before = client.handed_over
    hit = client.get("/shared-report", headers={"Origin": ORIGINS[1]})
    assert answer(hit) == (200, {"call": 1})
    assert client.handed_over == before
    assert hit.headers["access-control-allow-origin"] == ORIGINS[1]
    assert "origin" in hit.headers["vary"].lower()
    stranger = client.get("/shared-report", headers={"Origin": "https://evil.example"})
    assert answer(stranger) == (200, {"call": 1})
    assert "access-control-allow-origin" not in stranger.headers
    plain = client.get("/shared-report")
    assert "access-control-allow-origin" not in plain.headers
    preflight = client.options(
        "/shared-report",
        headers={"Origin": ORIGINS[1], "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGINS[1]


# -- cache_page: answers never kept ---------------------------------------------------------


def test_an_answer_whose_handler_used_djangos_request_is_never_kept(client):
    """routing.md: "Kept: ... the handler did not use the session or Django's request"."""
    agent = {"User-Agent": "probe/1"}
    assert client.get("/uses-django-request", headers=agent).json() == {
        "agent": "probe/1",
        "call": 1,
    }
    assert client.get("/uses-django-request", headers=agent).json() == {
        "agent": "probe/1",
        "call": 2,
    }
    # Nor in Django's cache: a fresh server (empty Rust memory) runs the handler again.
    with TestClient(api) as fresh:
        assert fresh.get("/uses-django-request", headers=agent).json()["call"] == 3


def test_an_answer_saying_no_cache_is_never_kept(client):
    """routing.md: "Kept: ... `Cache-Control` does not say `private`, `no-store` or
    `no-cache`" (the handler's header is sent as it was)."""
    first = client.get("/no-cache")
    assert (first.json(), first.headers["cache-control"]) == ({"call": 1}, "no-cache")
    again = client.get("/no-cache")
    assert (again.json(), again.headers["cache-control"]) == ({"call": 2}, "no-cache")
    with TestClient(api) as fresh:
        assert fresh.get("/no-cache").json() == {"call": 3}
    # The same route without the header is kept (the comparison that makes the above mean
    # something).
    assert client.get("/kept-for-comparison").json() == {"call": 1}
    assert client.get("/kept-for-comparison").json() == {"call": 1}


@pytest.mark.django_db
def test_api_urls_under_djangos_own_handler_keep_nothing(settings):
    """routing.md: "Routes with Django's middleware around them (... or `api.urls` served
    by Django's own handler under runserver or gunicorn) keep nothing"."""
    settings.ROOT_URLCONF = __name__
    django = Client()
    for expected in (1, 2, 3):
        r = django.get("/kept-for-comparison")
        assert (r.status_code, r.json()) == (200, {"call": expected})
        assert "age" not in r.headers
    # Nothing was put in Django's cache either: a runbolt process finds nothing to send.
    with TestClient(api) as served:
        assert served.get("/kept-for-comparison").json() == {"call": 4}


# -- uploads ---------------------------------------------------------------------------------


def test_file_constraint_violations_are_422s_at_the_form_field(client):
    """routing.md: "`File(max_size=, min_size=, allowed_types=["image/*", ...], max_files=)`
    violations are 422s with `"loc": ["form", name]`"."""

    def refusal(loc: str, msg: str) -> tuple:
        return 422, {"detail": [{"loc": ["form", loc], "msg": msg, "type": "value_error"}]}

    big = client.post("/avatar", files={"picture": ("big.png", b"p" * 2000, "image/png")})
    assert answer(big) == refusal("picture", "File 'big.png' is larger than 1024 bytes")
    tiny = client.post("/avatar", files={"picture": ("tiny.png", b"p", "image/png")})
    assert answer(tiny) == refusal("picture", "File 'tiny.png' is smaller than 10 bytes")
    text = client.post("/avatar", files={"picture": ("notes.txt", b"p" * 100, "text/plain")})
    assert answer(text) == refusal(
        "picture", "File type 'text/plain' is not allowed (allowed: image/*)"
    )
    many = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)]
    assert answer(client.post("/attachments", files=many)) == refusal(
        "files", "At most 2 files are allowed"
    )
    # Within the limits the same requests pass.
    fine = client.post("/avatar", files={"picture": ("fine.png", b"p" * 100, "image/png")})
    assert answer(fine) == (200, {"filename": "fine.png"})
    assert answer(client.post("/attachments", files=many[:2])) == (200, {"count": 2})


# -- cookies ---------------------------------------------------------------------------------


def test_set_cookie_with_expires_domain_and_secure(client):
    """routing.md: "`Response` objects have `set_cookie(key, value, max_age=, expires=,
    path=, domain=, secure=, httponly=, samesite=)`"."""
    r = client.get("/cookies")
    assert answer(r) == (200, {"ok": True})
    assert r.headers.get_list("set-cookie") == [
        "remember=yes; Domain=example.com; expires=Tue, 04 Mar 2031 05:06:07 GMT; Path=/; "
        "SameSite=Lax; Secure"
    ]


def test_set_cookie_takes_a_datetime_for_expires():
    """``expires`` may be a datetime, written as an HTTP date (a naive one taken as UTC)."""
    import datetime

    from django_bolt.responses import Response

    aware = Response({"ok": True})
    aware.set_cookie("a", "1", expires=datetime.datetime(2031, 3, 4, 5, 6, 7, tzinfo=datetime.UTC))
    naive = Response({"ok": True})
    naive.set_cookie("a", "1", expires=datetime.datetime(2031, 3, 4, 5, 6, 7))
    expected = "a=1; expires=Tue, 04 Mar 2031 05:06:07 GMT; Path=/; SameSite=Lax"
    assert aware.header_list() == naive.header_list() == [("set-cookie", expected)]
