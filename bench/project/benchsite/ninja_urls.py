"""The same endpoints with django-ninja, for granian."""

from django.contrib import admin
from django.urls import path
from ninja import File, Form, NinjaAPI, Schema, UploadedFile

api = NinjaAPI()


class Item(Schema):
    name: str
    price: float
    tags: list[str] = []


@api.get("/hello")
def hello(request):
    return {"message": "Hello, World!"}


@api.get("/items/{item_id}")
def get_item(request, item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@api.post("/items")
def create_item(request, item: Item):
    return {"name": item.name, "price": item.price, "tags": item.tags}


class Line(Schema):
    sku: str
    quantity: int
    price: float
    note: str = ""


class Order(Schema):
    customer: str
    lines: list[Line]


@api.post("/orders")
def create_order(request, order: Order):
    return {
        "customer": order.customer,
        "lines": len(order.lines),
        "total": sum(line.price * line.quantity for line in order.lines),
    }


@api.post("/upload")
def upload(request, title: Form[str], file: File[UploadedFile]):
    return {"title": title, "filename": file.name, "size": file.size}


# A model list and detail: django.contrib.auth's users, page-number pagination.
from django.contrib.auth import get_user_model  # noqa: E402
from django.shortcuts import get_object_or_404  # noqa: E402
from ninja import ModelSchema  # noqa: E402
from ninja.pagination import PageNumberPagination, paginate  # noqa: E402

User = get_user_model()


class UserOut(ModelSchema):
    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "is_active", "date_joined"]


@api.get("/users", response=list[UserOut])
@paginate(PageNumberPagination, page_size=10, max_page_size=100)
def list_users(request):
    return User.objects.order_by("id")


@api.get("/users/{pk}", response=UserOut)
def get_user(request, pk: int):
    return get_object_or_404(User, pk=pk)


urlpatterns = [path("admin/", admin.site.urls), path("", api.urls)]
