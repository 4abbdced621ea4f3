"""Bad input gets a clear answer and the worker lives on."""

import logging
from typing import Any

import msgspec
import pytest
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI
from django_bolt.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    RequestValidationError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnprocessableEntity,
)
from django_bolt.testing import TestClient
from tests.conftest import answer

api = BoltAPI()


class Body(msgspec.Struct):
    text: str


class Loose(msgspec.Struct):
    a: Any


@api.post("/any-body")
async def any_body(payload: Loose):
    return {"a": payload.a}


@api.post("/raw-json")
async def raw_json(request):
    return {"type": type(await request.json()).__name__}


@api.get("/boom")
async def boom():
    raise RuntimeError("secret internals")


@api.get("/boom-sync")
def boom_sync():
    raise ValueError("sync secret")


@api.get("/ok")
async def ok():
    return {"ok": True}


@api.get("/not-found")
async def not_found():
    raise HTTPException(status_code=404, detail="User not found")


@api.get("/dict-detail")
async def dict_detail():
    raise HTTPException(
        status_code=400,
        detail={"error": "validation_failed", "fields": {"email": "Invalid email format"}},
    )


@api.get("/with-headers")
async def with_headers():
    raise Unauthorized(detail="Authentication required", headers={"WWW-Authenticate": "Bearer"})


@api.get("/extra")
async def extra():
    raise BadRequest(
        detail="Invalid input",
        extra={"field": "email", "value": "invalid@", "reason": "Invalid email format"},
    )


@api.get("/manual-validation")
async def manual_validation():
    raise RequestValidationError(
        [{"loc": ["body", "email"], "msg": "Invalid email format", "type": "value_error"}]
    )


@api.get("/does-not-exist")
async def does_not_exist():
    return await get_user_model().objects.aget(id=987654)


@api.get("/bad-return")
async def bad_return() -> Body:
    return {"text": 5}


@api.post("/upload")
async def upload(body: Body):
    return {"len": len(body.text)}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False, debug=False, max_body_size=1024) as c:
        yield c


def test_handler_exception_is_json_500_without_internals(client, caplog):
    with caplog.at_level(logging.ERROR, logger="django_bolt"):
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret" not in response.text
    assert "secret internals" in caplog.text  # logged with its traceback
    assert client.get("/ok").json() == {"ok": True}


def test_sync_handler_exception_is_json_500(client):
    response = client.get("/boom-sync")
    assert answer(response) == (500, {"detail": "Internal Server Error"})
    assert client.get("/ok").status_code == 200


def test_many_failures_do_not_wear_the_worker_out(client):
    for _ in range(200):
        assert client.get("/boom").status_code == 500
    assert client.get("/ok").json() == {"ok": True}


def test_http_exception(client):
    response = client.get("/not-found")
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found"}


def test_dict_detail_stays_an_object(client):
    assert client.get("/dict-detail").json() == {
        "detail": {"error": "validation_failed", "fields": {"email": "Invalid email format"}}
    }


@pytest.mark.parametrize("debug", [False, True])
def test_exception_headers_and_extra(client, settings, debug):
    settings.DEBUG = debug
    response = client.get("/with-headers")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    # extra is part of the answer the handler chose: the same with DEBUG on or off.
    response = client.get("/extra")
    assert (response.status_code, response.json()) == (
        400,
        {
            "detail": "Invalid input",
            "field": "email",
            "value": "invalid@",
            "reason": "Invalid email format",
        },
    )


def test_request_validation_error(client):
    response = client.get("/manual-validation")
    assert answer(response) == (
        422,
        {
            "detail": [
                {"loc": ["body", "email"], "msg": "Invalid email format", "type": "value_error"}
            ]
        },
    )


@pytest.mark.django_db
def test_does_not_exist_is_404(client):
    r = client.get("/does-not-exist")
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


@api.get("/django-404")
def django_404():
    from django.http import Http404

    raise Http404("no such page")


@api.get("/django-403")
async def django_403():
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied("not yours")


def test_djangos_http404_and_permission_denied(client):
    # Django's exceptions answer with the status's own words: their message is not shown
    # (it may name internals), as Django's own 404 and 403 pages do not show it.
    assert answer(client.get("/django-404")) == (404, {"detail": "Not Found"})
    assert answer(client.get("/django-403")) == (403, {"detail": "Forbidden"})


def test_wrong_response_shape_is_500_naming_the_field(client, caplog):
    with caplog.at_level(logging.ERROR, logger="django_bolt"):
        response = client.get("/bad-return")
    assert response.status_code == 500
    assert "$.text" in caplog.text


def test_body_over_limit_is_413(client):
    response = client.post("/upload", json={"text": "x" * 2000})
    assert answer(response) == (
        413,
        {"detail": "Request body is larger than the limit of 1024 bytes"},
    )
    assert client.post("/upload", json={"text": "x" * 100}).json() == {"len": 100}


@pytest.mark.parametrize(
    ("cls", "status", "message"),
    [
        (BadRequest, 400, "Bad Request"),
        (Unauthorized, 401, "Unauthorized"),
        (Forbidden, 403, "Forbidden"),
        (NotFound, 404, "Not Found"),
        (MethodNotAllowed, 405, "Method Not Allowed"),
        (Conflict, 409, "Conflict"),
        (UnprocessableEntity, 422, "Unprocessable Entity"),
        (TooManyRequests, 429, "Too Many Requests"),
        (InternalServerError, 500, "Internal Server Error"),
        (ServiceUnavailable, 503, "Service Unavailable"),
    ],
)
def test_exception_classes_have_status_and_default_message(cls, status, message):
    exc = cls()
    assert exc.status_code == status
    assert exc.detail == message
    assert isinstance(exc, HTTPException)


def test_debug_returns_technical_page_to_html_clients():
    with TestClient(api, django_fallback=False, debug=True) as client:
        html = client.get("/boom", headers={"accept": "text/html"})
        assert html.status_code == 500
        assert html.headers["content-type"].startswith("text/html")
        assert "secret internals" in html.text
        assert "Traceback" in html.text
        as_json = client.get("/boom", headers={"accept": "application/json"})
        assert as_json.status_code == 500
        body = as_json.json()
        assert body["detail"] == "RuntimeError: secret internals"
        assert "secret internals" in "".join(body["traceback"])


@pytest.mark.parametrize("debug", [True, False])
def test_the_client_follows_settings_debug_unless_told(settings, debug):
    settings.DEBUG = debug
    with TestClient(api, django_fallback=False) as client:
        body = client.get("/boom", headers={"accept": "application/json"}).json()
    if debug:
        assert body["detail"] == "RuntimeError: secret internals" and body["traceback"]
    else:
        assert body == {"detail": "Internal Server Error"}


def test_custom_handler_can_fall_back_to_the_default(caplog):
    from django_bolt.exceptions import exception_handler

    def handler(exc, request):
        if isinstance(exc, KeyError):
            return {"error": "missing_key"}, 400
        return exception_handler(exc, request)

    local = BoltAPI(exception_handler=handler)

    @local.get("/key")
    async def key():
        raise KeyError("k")

    @local.get("/http")
    async def http():
        raise Forbidden(detail="no")

    @local.get("/crash")
    async def crash():
        raise RuntimeError("hidden")

    with (
        TestClient(local, django_fallback=False, debug=False) as client,
        caplog.at_level(logging.ERROR, "django_bolt"),
    ):
        assert client.get("/key").json() == {"error": "missing_key"}
        forbidden = client.get("/http")
        assert (forbidden.status_code, forbidden.json()) == (403, {"detail": "no"})
        crash = client.get("/crash")
        assert (crash.status_code, crash.json()) == (500, {"detail": "Internal Server Error"})
    assert "hidden" in caplog.text


def test_custom_exception_handler():
    def handler(exc, request):
        return {"error": "internal_server_error", "detail": str(exc)}, 500

    custom = BoltAPI(exception_handler=handler)

    @custom.get("/x")
    async def x():
        raise RuntimeError("custom")

    with TestClient(custom, django_fallback=False) as client:
        response = client.get("/x")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_server_error", "detail": "custom"}


bad_headers = BoltAPI()


@bad_headers.get("/name")
async def bad_header_name():
    return "x", 200, {"bad header": "v"}


@bad_headers.get("/value-after-await")
async def bad_header_value_after_await():
    import asyncio

    await asyncio.sleep(0)
    return "x", 200, {"x-ok": "bad\nvalue"}


@bad_headers.get("/sync")
def bad_header_sync():
    return "x", 200, {"bad header": "v"}


@pytest.mark.parametrize("path", ["/name", "/value-after-await", "/sync"])
def test_invalid_response_header_is_a_logged_500_not_a_hang(path, caplog):
    with (
        TestClient(bad_headers, django_fallback=False, timeout=10) as client,
        caplog.at_level(logging.ERROR, "django_bolt"),
    ):
        response = client.get(path)
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal Server Error"}
        assert "invalid" in caplog.text


def test_json_nested_too_deeply_is_422_not_a_crash():
    deep = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with TestClient(api) as client:
        for path in ("/any-body", "/raw-json"):
            response = client.post(path, content=deep, headers={"content-type": "application/json"})
            assert response.status_code == 422, path
            assert response.json()["detail"] == [
                {"loc": ["body"], "msg": "Invalid JSON: nested too deeply", "type": "json_invalid"}
            ]
        # The worker lives on.
        assert client.post("/any-body", json={"a": [1]}).json() == {"a": [1]}


def test_a_repeated_failure_is_logged_once_then_counted(caplog, monkeypatch):
    from django.core.signals import got_request_exception

    from django_bolt.http import error_response

    signals = []

    def receiver(sender, **kwargs):
        signals.append(kwargs["request"])

    got_request_exception.connect(receiver)
    try:
        with caplog.at_level(logging.WARNING), TestClient(api) as client:
            for _ in range(5):
                assert client.get("/boom").status_code == 500
            assert client.get("/boom-sync").status_code == 500  # another failure: logged
            tracebacks = [r for r in caplog.records if r.exc_info]
            assert [r.name for r in tracebacks] == [
                "django_bolt",
                "django.request",
                "django_bolt",
                "django.request",
            ]
            assert len(signals) == 6  # error trackers hear of every one
            # Once the window is over, the next failure is logged with the count.
            monkeypatch.setattr(error_response.REPEATS, "window", 0.0)
            caplog.clear()
            assert client.get("/boom").status_code == 500
            assert "handler tests.http.test_errors.boom failed 4 more times with RuntimeError" in (
                caplog.text
            )
            assert len([r for r in caplog.records if r.exc_info]) == 2
    finally:
        got_request_exception.disconnect(receiver)


def test_a_detail_key_in_extra_is_ignored():
    plain = BoltAPI()

    @plain.get("/x")
    async def x():
        raise BadRequest(detail="d", extra={"detail": "x", "field": 1})

    with TestClient(plain, django_fallback=False) as client:
        assert answer(client.get("/x")) == (400, {"detail": "d", "field": 1})


def test_a_custom_handler_returning_none_leaves_the_default():
    calls = []

    def handler(exc, request):
        calls.append(type(exc).__name__)

    custom = BoltAPI(exception_handler=handler)

    @custom.get("/gone")
    async def gone():
        raise NotFound()

    @custom.get("/crash")
    async def crash():
        raise RuntimeError("hidden")

    with TestClient(custom, django_fallback=False, debug=False) as client:
        assert answer(client.get("/gone")) == (404, {"detail": "Not Found"})
        assert answer(client.get("/crash")) == (500, {"detail": "Internal Server Error"})
    assert calls == ["NotFound", "RuntimeError"]
