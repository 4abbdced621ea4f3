"""The benchmark endpoints, written against the API both django_bolt packages document."""

from typing import Annotated

import msgspec

from django_bolt import BoltAPI, UploadFile, WebSocket
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


try:  # ours only: the reference package has no cache_page
    from django_bolt.cache import cache_page
except ImportError:  # pragma: no cover - the reference's run
    cache_page = None

if cache_page is not None:

    @api.get("/report")
    @cache_page(3600)
    async def report(region: str = "all"):
        return {"region": region, "rows": [{"n": i, "total": i * 7} for i in range(20)]}


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


# Rust-side security: the same declarations in both packages.
from django_bolt.auth import IsAuthenticated, JWTAuthentication  # noqa: E402
from django_bolt.middleware import cors, rate_limit  # noqa: E402

BENCH_SECRET = "bench-secret-0123456789abcdef0123456789"


@api.get("/secure", auth=[JWTAuthentication(secret=BENCH_SECRET)], guards=[IsAuthenticated()])
@cors(origins=["https://app.example.com"], headers=["Authorization"])
async def secure(request):
    context = request.get("context") or {}
    return {"user_id": context.get("user_id")}


@api.get("/limited")
@rate_limit(rps=1, burst=1)
async def limited():
    return {"ok": True}


@api.websocket("/ws/echo")
async def ws_echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(message)


# -- a model ViewSet: django.contrib.auth's users, page-number pagination ------------------
# Each package's documented way: ours generates the serializer from the model; the
# reference declares a Serializer Struct.
import datetime  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402

from django_bolt.pagination import PageNumberPagination  # noqa: E402

User = get_user_model()
USER_FIELDS = ["id", "username", "email", "first_name", "last_name", "is_active", "date_joined"]

try:
    from django_bolt.serializers import ModelSerializer
except ImportError:  # the reference package
    ModelSerializer = None

if ModelSerializer is not None:
    from django_bolt.views import ModelViewSet

    class UserSerializer(ModelSerializer):
        class Meta:
            model = User
            fields = USER_FIELDS

else:
    from django_bolt import ModelViewSet
    from django_bolt.serializers import Serializer

    class UserSerializer(Serializer):
        id: int
        username: str
        email: str
        first_name: str
        last_name: str
        is_active: bool
        date_joined: datetime.datetime


class UserPages(PageNumberPagination):
    page_size = 10
    max_page_size = 100
    page_size_query_param = "page_size"


@api.viewset("/users")
class UserViewSet(ModelViewSet):
    queryset = User.objects.order_by("id")
    serializer_class = UserSerializer
    pagination_class = UserPages


# -- the seeds' own handler shapes ----------------------------------------------------------
from django_bolt import Depends  # noqa: E402
from django_bolt.exceptions import HTTPException  # noqa: E402
from django_bolt.params import Header  # noqa: E402


class UserOut(msgspec.Struct):
    id: int
    username: str
    email: str


@api.post("/items/echo")
async def echo_item(item: Item) -> Item:
    """The validated Struct returned as it came."""
    return item


CATALOGUE = [Item(name=f"item {i}", price=i * 1.5, tags=["a", "b"]) for i in range(50)]


@api.get("/catalogue", response_model=list[Item])
async def catalogue():
    return CATALOGUE


@api.post("/contact")
async def contact(
    name: Annotated[str, Form()], email: Annotated[str, Form()], message: Annotated[str, Form()]
):
    return {"name": name, "email": email, "length": len(message)}


@api.get("/users-qs")
async def users_queryset() -> list[UserOut]:
    """A QuerySet returned under a declared type ("or you could just return the queryset")."""
    return User.objects.order_by("id")[:10]


@api.get("/users-one/{user_id}")
async def user_one(user_id: int):
    user = await User.objects.aget(id=user_id)
    return {"id": user.id, "username": user.username, "email": user.email}


@api.get("/users-ten")
async def users_ten():
    return [
        {"id": u.id, "username": u.username, "email": u.email}
        async for u in User.objects.order_by("id")[:10]
    ]


@api.get("/sync-hello")
def sync_hello():
    return {"message": "Hello, World!"}


async def tenant(x_tenant: Annotated[str, Header()] = "public") -> str:
    return x_tenant


async def tenant_settings(name: str = Depends(tenant)) -> dict:
    return {"tenant": name, "limit": 10}


@api.get("/depends")
async def with_depends(settings: dict = Depends(tenant_settings)):
    return settings


@api.get("/missing/{item_id}")
async def missing(item_id: int):
    raise HTTPException(status_code=404, detail=f"Item {item_id} not found")
