"""Class-based routes: ViewSets.

Conventional methods map to routes under a prefix::

    @api.viewset("/articles", auth=[JWTAuthentication()], guards=[IsAuthenticated()])
    class ArticleViewSet(ViewSet):
        queryset = Article.objects.all()

        async def list(self, request):                # GET    /articles
            ...
        async def retrieve(self, request, pk: int):   # GET    /articles/{pk}
            ...
        # create: POST /articles; update: PUT, partial_update: PATCH,
        # destroy: DELETE /articles/{pk}

        @action(detail=True, methods=["post"])
        async def publish(self, request, pk: int):    # POST   /articles/{pk}/publish
            ...

or explicit routes with ``@route.get(path)`` and ``api.register_viewset(cls, prefix=)``.
A new instance serves each request, with ``self.request`` and ``self.kwargs`` (the path
parameters) set.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ..http.errors import HTTPException, RequestValidationError
from ..http.request import Request
from ..http.responses import Response
from .coercion import validation_error_entry
from .pagination import paginate

if TYPE_CHECKING:
    from .router import Router

__all__ = ["ModelViewSet", "ReadOnlyModelViewSet", "ViewSet", "route", "action"]

_ROUTE_ATTR = "__bolt_viewset_routes__"

#: Conventional method -> (HTTP method, on the detail path).
CONVENTIONAL = {
    "list": ("GET", False),
    "create": ("POST", False),
    "retrieve": ("GET", True),
    "update": ("PUT", True),
    "partial_update": ("PATCH", True),
    "destroy": ("DELETE", True),
}


def _mark(func: Callable[..., Any], entry: dict[str, Any]) -> Callable[..., Any]:
    routes = list(getattr(func, _ROUTE_ATTR, ()))
    routes.append(entry)
    setattr(func, _ROUTE_ATTR, routes)
    return func


class _RouteDecorators:
    """``@route.get("/path")`` (and post/put/patch/delete) on ViewSet methods: the path is
    relative to the prefix given to ``api.register_viewset`` / ``api.viewset``."""

    def __call__(
        self, path: str = "", methods: list[str] | tuple[str, ...] = ("GET",), **options: Any
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            return _mark(
                func, {"path": path, "methods": [m.upper() for m in methods], "options": options}
            )

        return decorator

    def get(self, path: str = "", **options: Any) -> Callable[..., Any]:
        return self(path, ["GET"], **options)

    def post(self, path: str = "", **options: Any) -> Callable[..., Any]:
        return self(path, ["POST"], **options)

    def put(self, path: str = "", **options: Any) -> Callable[..., Any]:
        return self(path, ["PUT"], **options)

    def patch(self, path: str = "", **options: Any) -> Callable[..., Any]:
        return self(path, ["PATCH"], **options)

    def delete(self, path: str = "", **options: Any) -> Callable[..., Any]:
        return self(path, ["DELETE"], **options)


route = _RouteDecorators()


def action(
    detail: bool = False,
    methods: list[str] | tuple[str, ...] = ("GET",),
    url_path: str | None = None,
    **options: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An extra route of a conventional ViewSet: ``/prefix/<name>`` or, with ``detail``,
    ``/prefix/{pk}/<name>`` (``url_path`` replaces the method name)."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        return _mark(
            func,
            {
                "action": True,
                "detail": detail,
                "path": url_path if url_path is not None else func.__name__.replace("_", "-"),
                "methods": [m.upper() for m in methods],
                "options": options,
            },
        )

    return decorator


class _AwaitableQuerySetMixin:
    """``await qs`` evaluates the queryset (as the documented ``await
    self.get_queryset()`` expects); the queryset stays a queryset otherwise."""

    def __await__(self) -> Any:
        async def evaluate() -> list[Any]:
            return [obj async for obj in self]  # type: ignore[attr-defined]

        return evaluate().__await__()


_AWAITABLE: dict[type, type] = {}


def _awaitable_class(cls: type) -> type:
    made = _AWAITABLE.get(cls)
    if made is None:
        made = _AWAITABLE[cls] = type(cls.__name__, (_AwaitableQuerySetMixin, cls), {})
    return made


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ViewSet:
    """Groups the routes of one resource. Class attributes: ``queryset``, ``lookup_field``
    (``"pk"``), ``lookup_url_kwarg`` (the path parameter, default ``lookup_field``),
    ``auth``, ``guards``, ``tags``."""

    queryset: Any = None
    lookup_field = "pk"
    lookup_url_kwarg: str | None = None
    auth: list[Any] | None = None
    guards: list[Any] | None = None
    tags: list[str] | None = None

    request: Request
    kwargs: dict[str, Any]
    action: str

    def get_queryset(self) -> Any:
        """A fresh copy of ``queryset``; ``await`` it for the list of objects."""
        if self.queryset is None:
            raise TypeError(f"{type(self).__name__} needs a `queryset` or get_queryset()")
        qs = self.queryset.all()
        qs.__class__ = _awaitable_class(type(qs))
        return qs

    def get_object(self) -> Any:
        """The object the path names (404 when there is none). In async methods ``await``
        it; in sync ones it returns the object."""
        if _in_event_loop():
            return self._aget_object()
        return self._lookup(self.get_queryset()).get()

    def _lookup(self, qs: Any) -> Any:
        from django.core.exceptions import ValidationError

        kwarg = self.lookup_url_kwarg or self.lookup_field
        if kwarg not in self.kwargs:
            raise TypeError(
                f"{type(self).__name__}.{self.action}: no path parameter {kwarg!r} to look up by"
            )
        try:
            found = qs.filter(**{self.lookup_field: self.kwargs[kwarg]})
        except (ValueError, TypeError, ValidationError):
            found = qs.none()  # a value the field cannot hold names no object
        return _NotFoundOnMissing(found)

    async def _aget_object(self) -> Any:
        return await self._lookup(self.get_queryset()).aget()

    # -- registration ---------------------------------------------------------------------
    @classmethod
    def _endpoints(cls) -> list[tuple[str, list[str], str, dict[str, Any]]]:
        """(method name, HTTP methods, path relative to the prefix, options)."""
        lookup = cls.lookup_url_kwarg or cls.lookup_field
        found: list[tuple[str, list[str], str, dict[str, Any]]] = []
        for name in dir(cls):
            if name.startswith("__"):
                continue
            func = inspect.getattr_static(cls, name, None)
            if not callable(func):
                continue
            for entry in getattr(func, _ROUTE_ATTR, ()):
                path = entry["path"]
                if entry.get("action"):
                    base = f"/{{{lookup}}}" if entry["detail"] else ""
                    path = f"{base}/{path.strip('/')}"
                found.append((name, entry["methods"], path, entry["options"]))
            if name in CONVENTIONAL and not hasattr(func, _ROUTE_ATTR):
                method, detail = CONVENTIONAL[name]
                found.append((name, [method], f"/{{{lookup}}}" if detail else "", {}))
        return found


class _NotFoundOnMissing:
    """``get()`` / ``aget()`` of a filtered queryset, answering 404 when nothing matches."""

    __slots__ = ("qs",)

    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def _missing(self) -> HTTPException:
        return HTTPException(404, f"{self.qs.model._meta.verbose_name.capitalize()} not found")

    def get(self) -> Any:
        try:
            return self.qs.get()
        except self.qs.model.DoesNotExist:
            raise self._missing() from None

    async def aget(self) -> Any:
        try:
            return await self.qs.aget()
        except self.qs.model.DoesNotExist:
            raise self._missing() from None


# -- model viewsets ----------------------------------------------------------------------


def _generic(lookup: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Marks a ModelViewSet method: specialised per class at registration (the lookup path
    parameter, pagination), unless a subclass overrides it."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__bolt_generic__ = True  # type: ignore[attr-defined]
        func.__bolt_lookup__ = lookup  # type: ignore[attr-defined]
        return func

    return mark


def _with_related(qs: Any, serializer: Any) -> Any:
    select, prefetch = serializer.related_fields()
    if select:
        qs = qs.select_related(*select)
    if prefetch:
        qs = qs.prefetch_related(*prefetch)
    return qs


def _decode_body(request: Request, tp: Any) -> Any:
    try:
        return msgspec.json.decode(request.body or b"{}", type=tp)
    except msgspec.ValidationError as exc:
        raise RequestValidationError([validation_error_entry(exc, ["body"])]) from None
    except msgspec.DecodeError as exc:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": f"Invalid JSON: {exc}", "type": "json_invalid"}]
        ) from None
    except RecursionError:
        raise RequestValidationError(
            [{"loc": ["body"], "msg": "Invalid JSON: nested too deeply", "type": "json_invalid"}]
        ) from None


class ReadOnlyModelViewSet(ViewSet):
    """``list`` and ``retrieve`` of ``queryset`` through ``serializer_class`` (and
    ``list_serializer_class`` for lists), paginated by ``pagination_class`` when set.
    Nested serializers' relations are fetched with select_related / prefetch_related."""

    serializer_class: Any = None
    list_serializer_class: Any = None
    pagination_class: Any = None

    def get_serializer_class(self) -> Any:
        return type(self)._serializer_for(self.action)

    @classmethod
    def _serializer_for(cls, action: str) -> Any:
        if action == "list" and cls.list_serializer_class is not None:
            return cls.list_serializer_class
        if cls.serializer_class is None:
            raise TypeError(f"{cls.__name__} needs a `serializer_class`")
        return cls.serializer_class

    @classmethod
    def _specialize(cls, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """This class's version of a generic method: the serializer as the return type
        (the plan encodes with it; the schema documents it), the input type as the
        documented body, pagination on ``list``."""
        serializer = cls._serializer_for(name)

        @functools.wraps(func)
        async def specialized(self: ReadOnlyModelViewSet, request: Request) -> Any:
            return await func(self, request)

        returns = list[serializer] if name == "list" else serializer  # type: ignore[valid-type]
        specialized.__annotations__ = {"request": Request, "return": returns}
        if name in ("create", "update", "partial_update"):
            body = serializer.input_type(partial=name == "partial_update")
            specialized.__bolt_body__ = (body, True)  # type: ignore[attr-defined]
        if name == "destroy":
            specialized.__annotations__["return"] = None
        if name == "list" and cls.pagination_class is not None:
            return paginate(cls.pagination_class)(specialized)
        return specialized

    def _related(self, qs: Any) -> Any:
        return _with_related(qs, self.get_serializer_class())

    @_generic()
    async def list(self, request: Request) -> Any:
        qs = self._related(self.get_queryset())
        if self.pagination_class is not None:
            return qs  # paginated (and counted) by the pagination class
        return await qs

    @_generic(lookup=True)
    async def retrieve(self, request: Request) -> Any:
        return await self._lookup(self._related(self.get_queryset())).aget()


class ModelViewSet(ReadOnlyModelViewSet):
    """Adds ``create`` (201), ``update`` (PUT), ``partial_update`` (PATCH) and ``destroy``
    (204). Bodies are validated against the serializer's input type (422); each write
    runs in a transaction; a unique constraint the write breaks is a 409."""

    @_generic()
    async def create(self, request: Request) -> Any:
        from asgiref.sync import sync_to_async

        serializer = self.get_serializer_class()
        data = _decode_body(request, serializer.input_type())
        return await sync_to_async(self._write)(None, data, serializer)

    @_generic(lookup=True)
    async def update(self, request: Request) -> Any:
        return await self._update(request, partial=False)

    @_generic(lookup=True)
    async def partial_update(self, request: Request) -> Any:
        return await self._update(request, partial=True)

    @_generic(lookup=True)
    async def destroy(self, request: Request) -> Any:
        from asgiref.sync import sync_to_async

        await sync_to_async(self._delete)()
        return Response(b"", status_code=204)

    async def _update(self, request: Request, *, partial: bool) -> Any:
        from asgiref.sync import sync_to_async

        serializer = self.get_serializer_class()
        data = _decode_body(request, serializer.input_type(partial=partial))
        return await sync_to_async(self._write)(self.get_object, data, serializer)

    def _write(self, current: Callable[[], Any] | None, data: Any, serializer: Any) -> Any:
        from django.db import IntegrityError, transaction

        values, many = serializer.write_values(data)
        model = serializer.Meta.model
        try:
            with transaction.atomic():
                obj = current() if current is not None else model()
                for name, value in values.items():
                    setattr(obj, name, value)
                obj.save()
                for name, ids in many.items():
                    getattr(obj, name).set(ids)
        except IntegrityError as exc:
            text = str(exc).lower()
            if "foreign key" in text:
                raise HTTPException(422, "A related object does not exist") from None
            raise HTTPException(409, f"Conflict: {_conflict(exc)}") from None
        return _with_related(model._default_manager, serializer).get(pk=obj.pk)

    def _delete(self) -> None:
        from django.db import transaction

        with transaction.atomic():
            self.get_object().delete()


def _conflict(exc: Exception) -> str:
    """A unique violation, said without the SQL."""
    text = str(exc).splitlines()[0]
    if "unique" in text.lower():
        return "an object with these values already exists"
    return "the change breaks a database constraint"


def _bound_handler(cls: type[ViewSet], name: str) -> Callable[..., Any]:
    """A plain function for the route: makes a ViewSet instance per request and calls
    ``name`` on it. Its signature is the method's without ``self`` (plus the request)."""
    func = getattr(cls, name)
    if getattr(func, "__bolt_generic__", False):
        func = cls._specialize(name, func)  # type: ignore[attr-defined]
    lookup_param = getattr(func, "__bolt_lookup__", False)
    lookup = cls.lookup_url_kwarg or cls.lookup_field
    sig = inspect.signature(func)
    params = list(sig.parameters.values())[1:]  # without self
    declared_request = any(p.name == "request" for p in params)
    extra = []
    if lookup_param:
        extra.append(inspect.Parameter(lookup, inspect.Parameter.KEYWORD_ONLY, annotation=str))
    if not declared_request:
        extra.append(
            inspect.Parameter("_bolt_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        )
    at = next(
        (i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params)
    )
    params[at:at] = extra

    def instance(kwargs: dict[str, Any]) -> ViewSet:
        request = kwargs["request"] if declared_request else kwargs.pop("_bolt_request")
        if lookup_param:
            kwargs.pop(lookup)  # read through self.kwargs / get_object()
        view = cls.__new__(cls)
        view.request = request
        view.kwargs = dict(request.params)
        view.action = name
        return view

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def handler(*args: Any, **kwargs: Any) -> Any:
            view = instance(kwargs)
            return await func(view, *args, **kwargs)

    else:

        @functools.wraps(func)
        def handler(*args: Any, **kwargs: Any) -> Any:
            view = instance(kwargs)
            return func(view, *args, **kwargs)

    handler.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    handler.__qualname__ = f"{cls.__qualname__}.{name}"
    pagination = getattr(func, "__bolt_pagination__", None)
    if pagination is not None:
        handler.__bolt_pagination__ = pagination  # type: ignore[attr-defined]
    return handler


def register(
    router: Router,
    cls: type[ViewSet],
    prefix: str,
    *,
    auth: list[Any] | None = None,
    guards: list[Any] | None = None,
    tags: list[str] | None = None,
) -> type[ViewSet]:
    if not (isinstance(cls, type) and issubclass(cls, ViewSet)):
        raise TypeError(f"{cls!r} is not a ViewSet")
    endpoints = cls._endpoints()
    if not endpoints:
        raise TypeError(
            f"{cls.__qualname__} has no routes: define list/retrieve/create/update/"
            "partial_update/destroy, or decorate methods with @route or @action"
        )
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    auth = auth if auth is not None else cls.auth
    guards = guards if guards is not None else cls.guards
    tags = tags or cls.tags or [cls.__name__.removesuffix("ViewSet") or cls.__name__]
    for name, methods, path, options in endpoints:
        full = prefix + ("/" + path.strip("/") if path.strip("/") else "")
        options = {"tags": tags, **options}
        if auth is not None:
            options.setdefault("auth", auth)
        if guards is not None:
            options.setdefault("guards", guards)
        options.setdefault("name", f"{cls.__qualname__}.{name}")
        if name == "create" and "status_code" not in options:
            options["status_code"] = 201
        generic = getattr(getattr(cls, name, None), "__bolt_generic__", False)
        if name == "destroy" and generic and "status_code" not in options:
            options["status_code"] = 204
        router.api_route(full or "/", methods, **options)(_bound_handler(cls, name))
    return cls
