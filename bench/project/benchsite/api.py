"""The benchmark endpoints, written against the API both django_bolt packages document."""

import msgspec

from django_bolt import BoltAPI

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
