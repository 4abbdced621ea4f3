"""ModelSerializer types for fields whose values are not JSON's own (docs/viewsets.md:
``DecimalField`` -> Decimal, ``UUIDField`` -> UUID, ``JSONField`` -> any): they are
validated on the way in, stored as the model's own values, and come back as sent."""

import decimal
import uuid

import pytest

from django_bolt import BoltAPI
from django_bolt.serializers import ModelSerializer
from django_bolt.testing import TestClient
from django_bolt.views import ModelViewSet
from tests.conftest import answer

pytestmark = [pytest.mark.orm, pytest.mark.django_db(transaction=True)]

from users.models import Product  # noqa: E402


class ProductSerializer(ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "code", "name", "price", "specs"]


def make_api() -> BoltAPI:
    api = BoltAPI()

    @api.viewset("/products")
    class ProductViewSet(ModelViewSet):
        queryset = Product.objects.all()
        serializer_class = ProductSerializer

    return api


SPECS = {"size": [1, 2.5, None], "tags": {"new": True}, "note": "é"}


def test_decimal_uuid_and_json_fields_round_trip():
    code = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with TestClient(make_api()) as client:
        created = client.post(
            "/products",
            json={"code": str(code), "name": "lamp", "price": "12.50", "specs": SPECS},
        )
        assert created.status_code == 201, created.text
        body = created.json()
        product = Product.objects.get()
        assert body == {
            "id": product.pk,
            "code": str(code),
            "name": "lamp",
            "price": "12.50",
            "specs": SPECS,
        }
        # Stored as the model's own values, the decimal exactly.
        assert (product.code, product.price, product.specs) == (
            code,
            decimal.Decimal("12.50"),
            SPECS,
        )
        assert client.get(f"/products/{product.pk}").json() == body
        # A JSON number is a decimal too; specs may be any JSON value.
        changed = client.patch(f"/products/{product.pk}", json={"price": 7.1, "specs": [1, "a"]})
        assert changed.status_code == 200, changed.text
        # The answer is the object as saved: the field's two decimal places.
        assert changed.json()["price"] == "7.10"
        product.refresh_from_db()
        assert (product.price, product.specs) == (decimal.Decimal("7.10"), [1, "a"])


def test_defaults_fill_a_uuid_and_json_left_out():
    with TestClient(make_api()) as client:
        created = client.post("/products", json={"name": "chair", "price": "30"})
        assert created.status_code == 201, created.text
        product = Product.objects.get()
        assert isinstance(product.code, uuid.UUID)
        assert created.json()["code"] == str(product.code)
        assert created.json()["specs"] == {} == product.specs


@pytest.mark.parametrize(
    "field, value",
    [("price", "twelve"), ("price", [1]), ("code", "not-a-uuid"), ("code", 12)],
)
def test_values_of_the_wrong_kind_are_422(field, value):
    payload = {"name": "lamp", "price": "1.00", field: value}
    with TestClient(make_api()) as client:
        status, body = answer(client.post("/products", json=payload))
        assert status == 422, body
        assert [error["loc"] for error in body["detail"]] == [["body", field]]
        assert Product.objects.count() == 0
