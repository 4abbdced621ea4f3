"""A CORS preflight gets the same answer from the Rust server and from the Django view of
``api.urls`` (runserver, WSGI, Django's test client): both ask the Rust policy which
route answers (``RoutePolicy.for_preflight``)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from django_bolt import BoltAPI
from django_bolt.middleware import CORSMiddleware, cors, skip_middleware
from django_bolt.testing import TestClient

ORIGIN = "https://app.example"

api = BoltAPI(
    openapi_url=None,
    middleware=[CORSMiddleware(origins=[ORIGIN], methods=["GET", "POST"], max_age=60)],
)


@api.get("/items")
async def list_items():
    return []


@api.post("/items")
@cors(origins=["https://other.example"], methods=["POST"])
async def create_item():
    return {}


@api.get("/plain")
@skip_middleware("cors")
async def plain():
    return {}


@api.put("/plain")
async def replace_plain():
    return {}


urlpatterns = [path("", api.urls)]

CASES = [
    ("/items", ORIGIN, "GET"),
    ("/items", ORIGIN, "HEAD"),  # HEAD is answered by the GET route
    ("/items", ORIGIN, "POST"),  # the POST route's own policy refuses this origin
    ("/items", "https://other.example", "POST"),
    ("/items", ORIGIN, "DELETE"),  # no DELETE route: refused by name
    ("/items", ORIGIN, "get"),  # method names are case-sensitive
    ("/items", "https://evil.example", "GET"),
    ("/plain", ORIGIN, "GET"),  # that route takes no part in CORS
    ("/plain", ORIGIN, "PUT"),
    ("/plain", ORIGIN, "PATCH"),  # no PATCH route: the PUT route's policy refuses it
]
CORS_HEADERS = (
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-credentials",
    "access-control-max-age",
)


def _answer(status: int, headers: dict[str, str], body: bytes) -> tuple:
    lower = {k.lower(): v for k, v in headers.items()}
    return status, {h: lower.get(h) for h in CORS_HEADERS}, body


@pytest.fixture(scope="module")
def rust_client():
    with TestClient(api) as client:
        yield client


@pytest.mark.parametrize(("url", "origin", "method"), CASES)
def test_django_view_answers_preflights_as_rust_does(rust_client, settings, url, origin, method):
    settings.ROOT_URLCONF = __name__
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    rust = rust_client.options(url, headers=headers)
    django = Client().options(url, headers=headers)
    assert _answer(django.status_code, dict(django.items()), django.content) == _answer(
        rust.status_code, dict(rust.headers), rust.content
    )


def test_the_cases_cover_every_kind_of_answer(rust_client):
    statuses = {
        rust_client.options(
            url, headers={"Origin": origin, "Access-Control-Request-Method": method}
        ).status_code
        for url, origin, method in CASES
    }
    # allowed (204), refused by the policy (403), and no CORS on the route (405 / 2xx)
    assert {204, 403} <= statuses and len(statuses) >= 3
