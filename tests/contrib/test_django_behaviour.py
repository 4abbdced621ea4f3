"""Django's behaviour on API routes: the security middleware's headers (added in Rust),
got_request_exception and django.request for unhandled exceptions, the technical 500
page built from the real request, and ATOMIC_REQUESTS for sync handlers."""

import logging

import pytest
from django.db import connections, transaction
from django.test import Client as DjangoClient

from django_bolt import BoltAPI, Request
from django_bolt.auth import IsAuthenticated, JWTAuthentication, create_jwt_for_user
from django_bolt.middleware import skip_middleware
from django_bolt.responses import JSON
from django_bolt.testing import TestClient

SECURITY = ("x-content-type-options", "referrer-policy", "cross-origin-opener-policy")


def make_api(**options):
    api = BoltAPI(**options)

    @api.get("/plain")
    async def plain():
        return {"ok": True}

    @api.get("/framed")
    async def framed():
        return JSON({"ok": True}, headers={"X-Frame-Options": "SAMEORIGIN"})

    @api.get("/bare")
    @skip_middleware("security_headers")
    async def bare():
        return {"ok": True}

    @api.get("/private", guards=[IsAuthenticated()], auth=[JWTAuthentication()])
    async def private():
        return {"ok": True}

    return api


def django_page_headers():
    response = DjangoClient().get("/django/plain/")
    assert response.status_code == 200
    return {k.lower(): v for k, v in response.headers.items()}


def test_api_answers_carry_the_headers_django_gives_its_pages():
    page = django_page_headers()
    with TestClient(make_api()) as client:
        response = client.get("/plain")
        assert response.status_code == 200
        for name in (*SECURITY, "x-frame-options"):
            assert response.headers[name] == page[name], name
        assert response.headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in response.headers
        # Refusals from the Rust gate carry them too, as Django's 403 pages do.
        refused = client.get("/private")
        assert refused.status_code == 401
        assert refused.headers["x-content-type-options"] == "nosniff"
        assert refused.headers["x-frame-options"] == "DENY"


def test_an_answers_own_header_wins():
    with TestClient(make_api()) as client:
        response = client.get("/framed")
        assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def test_a_route_or_an_api_can_opt_out():
    with TestClient(make_api()) as client:
        response = client.get("/bare")
        assert response.status_code == 200
        assert not {*SECURITY, "x-frame-options"} & set(response.headers)
    with TestClient(make_api(security_headers=False)) as client:
        response = client.get("/plain")
        assert not {*SECURITY, "x-frame-options"} & set(response.headers)


def test_settings_shape_the_headers(settings):
    settings.SECURE_REFERRER_POLICY = ["no-referrer", " strict-origin"]  # kept as written
    settings.SECURE_CROSS_ORIGIN_OPENER_POLICY = None
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False
    settings.X_FRAME_OPTIONS = "sameorigin"
    page = django_page_headers()
    with TestClient(make_api()) as client:
        headers = client.get("/plain").headers
        assert headers["referrer-policy"] == page["referrer-policy"] == "no-referrer, strict-origin"
        assert headers["x-frame-options"] == page["x-frame-options"] == "SAMEORIGIN"
        assert "cross-origin-opener-policy" not in headers
        assert "x-content-type-options" not in headers


def test_hsts_on_secure_requests_behind_a_proxy(settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    secure = {"X-Forwarded-Proto": "https"}
    page = DjangoClient().get("/django/plain/", headers=secure)
    with TestClient(make_api()) as client:
        response = client.get("/plain", headers=secure)
        assert (
            response.headers["strict-transport-security"]
            == page.headers["Strict-Transport-Security"]
            == "max-age=3600; includeSubDomains; preload"
        )
        plain = client.get("/plain", headers={"X-Forwarded-Proto": "http"})
        assert "strict-transport-security" not in plain.headers


def test_without_djangos_middleware_no_headers_are_added(settings):
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
    ]
    with TestClient(make_api()) as client:
        response = client.get("/plain")
        assert not {*SECURITY, "x-frame-options"} & set(response.headers)


# -- unhandled exceptions --------------------------------------------------------------

failing = BoltAPI()


@failing.post("/orders/{order_id}")
async def broken(order_id: int, request: Request):
    request.context  # noqa: B018 - the identity, as a handler reads it
    raise RuntimeError(f"order {order_id} exploded")


@failing.get("/sync-broken")
def sync_broken():
    raise ValueError("sync failure")


@pytest.fixture
def received():
    from django.core.signals import got_request_exception

    seen = []

    def receiver(sender, request, **kwargs):
        seen.append(request)

    got_request_exception.connect(receiver)
    yield seen
    got_request_exception.disconnect(receiver)


@pytest.mark.parametrize(("method", "path"), [("POST", "/orders/7?x=1"), ("GET", "/sync-broken")])
def test_an_unhandled_exception_reaches_got_request_exception_and_django_request(
    received, caplog, method, path
):
    with caplog.at_level(logging.ERROR, logger="django.request"):
        with TestClient(failing) as client:
            response = client.request(method, path, headers={"X-Trace": "abc"})
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    (request,) = received
    assert request.method == method
    assert request.path == path.split("?")[0]
    assert request.headers["X-Trace"] == "abc"
    records = [r for r in caplog.records if r.name == "django.request"]
    assert len(records) == 1
    record = records[0]
    assert record.getMessage() == f"Internal Server Error: {path.split('?')[0]}"
    assert record.status_code == 500
    assert record.request is request
    assert record.exc_info[0] in (RuntimeError, ValueError)


@pytest.mark.django_db
def test_the_report_names_the_token_user(received, caplog):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("reporter", password="pw")
    api = BoltAPI(auth=[JWTAuthentication()], guards=[IsAuthenticated()])

    @api.get("/fail")
    async def fail(request: Request):
        raise RuntimeError("with a user")

    with TestClient(api) as client:
        token = create_jwt_for_user(user)
        response = client.get("/fail", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 500
    (request,) = received
    assert request.user.id == user.id


def test_debug_500_page_is_built_from_the_real_request(settings, caplog):
    settings.DEBUG = True
    with TestClient(failing) as client:
        response = client.post(
            "/orders/42?x=1",
            headers={"Accept": "text/html", "X-Trace": "trace-me"},
            content=b"{}",
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "order 42 exploded" in page
    assert "/orders/42" in page
    assert "HTTP_X_TRACE" in page and "trace-me" in page
    assert "POST" in page


# -- ATOMIC_REQUESTS --------------------------------------------------------------------

atomic_api = BoltAPI()


@atomic_api.post("/notes")
def create_then_fail():
    from users.models import Note

    Note.objects.create(title="rolled back?")
    raise RuntimeError("after the write")


@atomic_api.post("/notes-kept")
@transaction.non_atomic_requests
def create_then_fail_outside():
    from users.models import Note

    Note.objects.create(title="kept")
    raise RuntimeError("after the write")


@pytest.mark.orm
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("atomic", [True, False])
def test_atomic_requests_wrap_sync_handlers(monkeypatch, atomic):
    from users.models import Note

    monkeypatch.setitem(connections.settings["default"], "ATOMIC_REQUESTS", atomic)
    with TestClient(atomic_api) as client:
        assert client.post("/notes").status_code == 500
        assert client.post("/notes-kept").status_code == 500
    titles = sorted(Note.objects.values_list("title", flat=True))
    assert titles == (["kept"] if atomic else ["kept", "rolled back?"])
