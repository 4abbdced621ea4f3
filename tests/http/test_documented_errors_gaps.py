"""What docs/errors.md promises and the other error tests leave open: a body of another
content type sent to a route that reads a form is a 415 (JSON routes are tested in
tests/e2e/test_hostile.py), and the form content types themselves are read."""

from typing import Annotated

import pytest

from django_bolt import BoltAPI, File, Form, UploadFile
from django_bolt.testing import TestClient
from tests.conftest import answer

api = BoltAPI()

#: Every call that reached a handler: a refused body must not.
CALLS: list[str] = []


@api.post("/contact")
async def contact(name: Annotated[str, Form()], age: Annotated[int, Form()]):
    CALLS.append("contact")
    return {"name": name, "age": age}


@api.post("/documents")
async def upload(title: Annotated[str, Form()], document: Annotated[UploadFile, File()]):
    CALLS.append("documents")
    return {"title": title, "filename": document.filename, "size": document.size}


@api.post("/newsletter")
async def newsletter(
    email: Annotated[str, Form()] = "nobody@example.com",
    weekly: Annotated[bool, Form()] = False,
):
    CALLS.append("newsletter")
    return {"email": email, "weekly": weekly}


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


OTHER_BODIES = [
    ("application/json", b'{"name": "Ann", "age": 41}'),
    ("text/plain", b"name=Ann&age=41"),
    ("application/xml", b"<contact><name>Ann</name></contact>"),
]


@pytest.mark.parametrize("route", ["/contact", "/documents", "/newsletter"])
@pytest.mark.parametrize(("content_type", "body"), OTHER_BODIES)
def test_a_body_of_another_content_type_on_a_form_route_is_415(client, route, content_type, body):
    """docs/errors.md: "415 | a body of another content type where the route reads JSON
    or a form"; and "Every error an API route or the API's own checks answer is JSON:
    `{"detail": ...}`"."""
    CALLS.clear()
    r = client.post(route, content=body, headers={"Content-Type": content_type})
    status, payload = answer(r)
    assert status == 415, (status, payload)
    assert isinstance(payload, dict) and list(payload) == ["detail"], payload
    assert isinstance(payload["detail"], str) and payload["detail"], payload
    assert CALLS == []


def test_the_form_content_types_are_read_by_a_form_route(client):
    CALLS.clear()
    assert answer(client.post("/contact", data={"name": "Ann", "age": "41"})) == (
        200,
        {"name": "Ann", "age": 41},
    )
    # A form without files may come as multipart too.
    multipart = client.post("/contact", files={"name": (None, "Bo"), "age": (None, "7")})
    assert answer(multipart) == (200, {"name": "Bo", "age": 7})
    r = client.post("/documents", data={"title": "Report"}, files={"document": ("r.txt", b"123")})
    assert answer(r) == (200, {"title": "Report", "filename": "r.txt", "size": 3})
    r = client.post("/newsletter", data={"email": "ann@example.com", "weekly": "true"})
    assert answer(r) == (200, {"email": "ann@example.com", "weekly": True})
    assert CALLS == ["contact", "contact", "documents", "newsletter"]
