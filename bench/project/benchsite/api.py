"""The benchmark endpoints, written against the API both django_bolt packages document."""

from typing import Annotated

import msgspec

from django_bolt import BoltAPI, UploadFile
from django_bolt.params import File, Form

api = BoltAPI()


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@api.get("/hello")
async def hello():
    return {"message": "Hello, World!"}


@api.get("/items/{item_id}")
async def get_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@api.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price, "tags": item.tags}


class Line(msgspec.Struct):
    sku: str
    quantity: int
    price: float
    note: str = ""


class Order(msgspec.Struct):
    customer: str
    lines: list[Line]


@api.post("/orders")
async def create_order(order: Order):
    return {
        "customer": order.customer,
        "lines": len(order.lines),
        "total": sum(line.price * line.quantity for line in order.lines),
    }


@api.post("/upload")
async def upload(title: Annotated[str, Form()], file: Annotated[UploadFile, File()]):
    return {"title": title, "filename": file.filename, "size": file.size}
