"""``Serializer``: ``validate_<field>`` methods after decoding, 422 at the field."""

import msgspec
import pytest
from django.core.exceptions import ValidationError as DjangoValidationError

from django_bolt import BoltAPI
from django_bolt.serializers import Serializer, ValidationError
from django_bolt.testing import TestClient


class UserSerializer(Serializer):
    name: str
    email: str

    def validate_email(self, value):
        if not value.endswith("@company.com"):
            raise ValidationError("Must use company email")
        return value

    def validate_name(self, value):
        if not value.strip():
            raise DjangoValidationError("Name may not be blank")
        return value.strip().title()


class Team(msgspec.Struct):
    title: str
    lead: UserSerializer
    members: list[UserSerializer] = []


class Ticket(Serializer):
    seats: int

    def validate_seats(self, value):
        if value > 10:
            raise ValueError("At most 10 seats")
        return value


api = BoltAPI()


@api.post("/users")
async def create_user(body: UserSerializer) -> UserSerializer:
    return body


@api.post("/teams")
def create_team(team: Team):
    return {"lead": team.lead.name, "members": [m.email for m in team.members]}


@api.post("/tickets")
async def book(ticket: Ticket):
    return {"seats": ticket.seats}


@pytest.fixture(scope="module")
def client():
    with TestClient(api) as c:
        yield c


def test_validators_run_and_may_transform(client):
    r = client.post("/users", json={"name": "  ada lovelace ", "email": "ada@company.com"})
    assert (r.status_code, r.json()) == (200, {"name": "Ada Lovelace", "email": "ada@company.com"})


def test_a_refused_field_is_a_422_at_its_location(client):
    r = client.post("/users", json={"name": "Ada", "email": "ada@gmail.com"})
    assert (r.status_code, r.json()) == (
        422,
        {
            "detail": [
                {"loc": ["body", "email"], "msg": "Must use company email", "type": "value_error"}
            ]
        },
    )
    # Django's ValidationError and ValueError refuse too.
    r = client.post("/users", json={"name": " ", "email": "ada@company.com"})
    assert r.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "Name may not be blank", "type": "value_error"}
    ]
    r = client.post("/tickets", json={"seats": 11})
    assert r.json()["detail"] == [
        {"loc": ["body", "seats"], "msg": "At most 10 seats", "type": "value_error"}
    ]
    # Type errors come first, from msgspec, at the same location.
    assert client.post("/tickets", json={"seats": "x"}).json()["detail"][0]["loc"] == [
        "body",
        "seats",
    ]


def test_nested_serializers_report_the_full_path(client):
    ok = {"name": "Ada", "email": "ada@company.com"}
    bad = {"name": "Bob", "email": "bob@else.org"}
    r = client.post("/teams", json={"title": "core", "lead": ok, "members": [ok, bad]})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "members", 1, "email"]
    r = client.post("/teams", json={"title": "core", "lead": bad})
    assert r.json()["detail"][0]["loc"] == ["body", "lead", "email"]
    r = client.post("/teams", json={"title": "core", "lead": ok, "members": [ok]})
    assert r.json() == {"lead": "Ada", "members": ["ada@company.com"]}


def test_serializers_validate_outside_requests_too():
    assert UserSerializer(name="ada", email="a@company.com").name == "Ada"
    with pytest.raises(ValueError, match="Must use company email"):
        UserSerializer(name="ada", email="a@b.c")
    with pytest.raises(msgspec.ValidationError, match="Must use company email"):
        msgspec.convert({"name": "ada", "email": "a@b.c"}, UserSerializer)
