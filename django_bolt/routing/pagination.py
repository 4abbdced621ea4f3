"""Pagination: ``@paginate(PageNumberPagination)`` on a handler that returns a QuerySet
(or a list) turns it into one page of it.

    class ArticlePagination(PageNumberPagination):
        page_size = 20
        max_page_size = 100
        page_size_query_param = "page_size"

    @api.get("/articles")
    @paginate(ArticlePagination)
    async def list_articles(request) -> list[ArticleSchema]:
        return Article.objects.all()

The query parameters (``page``, ``page_size``; ``limit``, ``offset``; ``cursor``) are
declared on the route like any others, so they are validated (422) and documented. The
return annotation (or ``response_model=``) names the type of one item; each item is
converted to it (model instances by attribute).
"""

from __future__ import annotations

import abc
import datetime
import decimal
import functools
import inspect
import json
import math
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

from django.core import signing
from django.db import models

from ..http.errors import HTTPException
from .params import Query

__all__ = [
    "BasePagination",
    "CursorPagination",
    "LimitOffsetPagination",
    "PageNumberPagination",
    "Page",
    "paginate",
]


class Page:
    """One page: the envelope fields and the items, rendered with the route's item type."""

    __slots__ = ("meta", "items")

    def __init__(self, meta: dict[str, Any], items: list[Any]) -> None:
        self.meta = meta
        self.items = items

    def render(self, item_type: Any) -> dict[str, Any]:
        return {**self.meta, "items": convert_items(self.items, item_type)}


def convert_items(items: list[Any], item_type: Any) -> list[Any]:
    import msgspec

    if item_type is not None:
        convert = getattr(item_type, "serialize_many", None)
        if convert is not None:  # a ModelSerializer
            return convert(items)
        return msgspec.convert(items, list[item_type], from_attributes=True)
    return [model_dict(i) if isinstance(i, models.Model) else i for i in items]


def model_dict(obj: models.Model) -> dict[str, Any]:
    """A model instance's concrete fields (foreign keys as ids)."""
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


async def _acount(source: Any) -> int:
    if isinstance(source, models.QuerySet):
        return await source.acount()
    return len(source)


def _count(source: Any) -> int:
    if isinstance(source, models.QuerySet):
        return source.count()
    return len(source)


async def _aslice(source: Any, start: int, stop: int) -> list[Any]:
    if isinstance(source, models.QuerySet):
        return [obj async for obj in source[start:stop]]
    return list(source[start:stop])


def _slice(source: Any, start: int, stop: int) -> list[Any]:
    return list(source[start:stop])


class BasePagination(abc.ABC):
    """Declares its query parameters and cuts one page out of a source. ``envelope``
    documents the page's fields besides ``items`` (JSON Schema, for OpenAPI)."""

    envelope: ClassVar[dict[str, Any]] = {}

    @abc.abstractmethod
    def parameters(self) -> list[inspect.Parameter]:
        """Keyword-only parameters added to the handler (validated and documented)."""

    @abc.abstractmethod
    async def apaginate(self, source: Any, values: dict[str, Any]) -> Page:
        """The page of ``source`` for the parameter ``values`` (async handlers)."""

    @abc.abstractmethod
    def paginate(self, source: Any, values: dict[str, Any]) -> Page:
        """The same for sync handlers."""


def _query_param(name: str, alias: str, default: Any, annotation: Any, **constraints: Any) -> Any:
    return inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=Query(default, alias=alias, **constraints),
        annotation=annotation,
    )


class PageNumberPagination(BasePagination):
    """``?page=2`` (and ``?page_size=50`` when ``page_size_query_param`` is set, capped at
    ``max_page_size``). A page past the last one is a 404."""

    page_size = 100
    max_page_size: int | None = None
    envelope = {
        "count": {"type": "integer"},
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "total_pages": {"type": "integer"},
        "has_next": {"type": "boolean"},
        "has_previous": {"type": "boolean"},
        "next_page": {"type": ["integer", "null"]},
        "previous_page": {"type": ["integer", "null"]},
    }
    page_query_param = "page"
    page_size_query_param: str | None = None

    def parameters(self) -> list[inspect.Parameter]:
        out = [_query_param("_bolt_page", self.page_query_param, 1, int, ge=1)]
        if self.page_size_query_param:
            out.append(
                _query_param("_bolt_page_size", self.page_size_query_param, None, int | None, ge=1)
            )
        return out

    def _size(self, values: dict[str, Any]) -> int:
        size = values.get("_bolt_page_size") or self.page_size
        if self.max_page_size is not None:
            size = min(size, self.max_page_size)
        return max(1, size)

    def _page(self, count: int, page: int, size: int, items: list[Any]) -> Page:
        total_pages = max(1, math.ceil(count / size))
        return Page(
            {
                "count": count,
                "page": page,
                "page_size": size,
                "total_pages": total_pages,
                "has_next": page < total_pages,
                "has_previous": page > 1,
                "next_page": page + 1 if page < total_pages else None,
                "previous_page": page - 1 if page > 1 else None,
            },
            items,
        )

    def _check(self, count: int, page: int, size: int) -> None:
        if page > 1 and (page - 1) * size >= count:
            raise HTTPException(404, f"Invalid page {page}: there are fewer items")

    async def apaginate(self, source: Any, values: dict[str, Any]) -> Page:
        page, size = values["_bolt_page"], self._size(values)
        count = await _acount(source)
        self._check(count, page, size)
        return self._page(count, page, size, await _aslice(source, (page - 1) * size, page * size))

    def paginate(self, source: Any, values: dict[str, Any]) -> Page:
        page, size = values["_bolt_page"], self._size(values)
        count = _count(source)
        self._check(count, page, size)
        return self._page(count, page, size, _slice(source, (page - 1) * size, page * size))


class LimitOffsetPagination(BasePagination):
    """``?limit=10&offset=20``; ``limit`` defaults to ``default_limit`` and is capped at
    ``max_limit``."""

    default_limit = 100
    max_limit: int | None = 1000
    envelope = {
        "count": {"type": "integer"},
        "limit": {"type": "integer"},
        "offset": {"type": "integer"},
        "has_next": {"type": "boolean"},
        "has_previous": {"type": "boolean"},
    }
    limit_query_param = "limit"
    offset_query_param = "offset"

    def parameters(self) -> list[inspect.Parameter]:
        return [
            _query_param("_bolt_limit", self.limit_query_param, None, int | None, ge=1),
            _query_param("_bolt_offset", self.offset_query_param, 0, int, ge=0),
        ]

    def _window(self, values: dict[str, Any]) -> tuple[int, int]:
        limit = values.get("_bolt_limit") or self.default_limit
        if self.max_limit is not None:
            limit = min(limit, self.max_limit)
        return limit, values["_bolt_offset"]

    @staticmethod
    def _page(count: int, limit: int, offset: int, items: list[Any]) -> Page:
        return Page(
            {
                "count": count,
                "limit": limit,
                "offset": offset,
                "has_next": offset + limit < count,
                "has_previous": offset > 0,
            },
            items,
        )

    async def apaginate(self, source: Any, values: dict[str, Any]) -> Page:
        limit, offset = self._window(values)
        count = await _acount(source)
        return self._page(count, limit, offset, await _aslice(source, offset, offset + limit))

    def paginate(self, source: Any, values: dict[str, Any]) -> Page:
        limit, offset = self._window(values)
        count = _count(source)
        return self._page(count, limit, offset, _slice(source, offset, offset + limit))


def _cursor_value(value: Any) -> Any:
    # Full precision: Django's JSON encoder drops microseconds, which would skip rows.
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


class _CursorJSON:
    """Cursor values as JSON (dates, decimals and UUIDs as strings, which the ORM parses
    back when filtering)."""

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), default=_cursor_value).encode()

    def loads(self, data: bytes) -> Any:
        return json.loads(data.decode())


class CursorPagination(BasePagination):
    """``?cursor=...``: keyset pagination over ``ordering`` (required; the primary key is
    added as a tie-breaker). Pages stay correct while rows are added, and each costs the
    same however deep. The cursor is opaque and signed with ``SECRET_KEY``: a changed
    cursor is refused with 400."""

    page_size = 100
    ordering: str | tuple[str, ...] | list[str] | None = None
    cursor_query_param = "cursor"
    salt = "django_bolt.pagination.cursor"
    envelope = {
        "page_size": {"type": "integer"},
        "has_next": {"type": "boolean"},
        "has_previous": {"type": "boolean"},
        "next_cursor": {"type": ["string", "null"]},
        "previous_cursor": {"type": ["string", "null"]},
    }

    def __init__(self) -> None:
        if not self.ordering:
            raise TypeError(f"{type(self).__name__} needs `ordering` (e.g. '-created_at')")

    def parameters(self) -> list[inspect.Parameter]:
        return [_query_param("_bolt_cursor", self.cursor_query_param, None, str | None)]

    def _fields(self, source: models.QuerySet) -> list[tuple[str, bool]]:
        """(field, descending) pairs, the primary key last."""
        names = [self.ordering] if isinstance(self.ordering, str) else list(self.ordering or ())
        fields = [(n.lstrip("-"), n.startswith("-")) for n in names]
        pk = source.model._meta.pk.attname
        if not any(f in ("pk", pk) for f, _ in fields):
            fields.append((pk, fields[-1][1] if fields else False))
        return fields

    def _decode(self, cursor: str | None) -> tuple[list[Any], bool] | None:
        if cursor is None:
            return None
        try:
            data = signing.loads(cursor, salt=self.salt, serializer=_CursorJSON)
            values, reverse = data["v"], bool(data["r"])
            if not isinstance(values, list):
                raise ValueError
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise HTTPException(400, "Invalid cursor") from None
        return values, reverse

    def _encode(self, obj: Any, fields: list[tuple[str, bool]], reverse: bool) -> str:
        values = [getattr(obj, f) for f, _ in fields]
        return signing.dumps(
            {"v": values, "r": reverse}, salt=self.salt, serializer=_CursorJSON, compress=True
        )

    @staticmethod
    def _after(fields: list[tuple[str, bool]], values: list[Any], reverse: bool) -> models.Q:
        """Rows after ``values`` in the ordering (before them when ``reverse``)."""
        if len(values) != len(fields):
            raise HTTPException(400, "Invalid cursor")
        condition = models.Q()
        for i in range(len(fields) - 1, -1, -1):
            name, descending = fields[i]
            later = "lt" if descending != reverse else "gt"
            step = models.Q(**{f"{name}__{later}": values[i]})
            if i < len(fields) - 1:
                step |= models.Q(**{name: values[i]}) & condition
            condition = step
        return condition

    def _query(self, source: Any, values: dict[str, Any]) -> tuple[Any, Any, bool, bool]:
        if not isinstance(source, models.QuerySet):
            raise TypeError("CursorPagination needs a QuerySet")
        fields = self._fields(source)
        decoded = self._decode(values.get("_bolt_cursor"))
        reverse = decoded is not None and decoded[1]
        order = [("-" if desc != reverse else "") + name for name, desc in fields]
        qs = source.order_by(*order)
        if decoded is not None:
            qs = qs.filter(self._after(fields, decoded[0], reverse))
        return qs[: self.page_size + 1], fields, reverse, decoded is not None

    def _page(self, rows: list[Any], fields: Any, reverse: bool, from_cursor: bool) -> Page:
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
        has_next = more if not reverse else True
        has_previous = from_cursor if not reverse else more
        return Page(
            {
                "page_size": self.page_size,
                "has_next": has_next and bool(rows),
                "has_previous": has_previous and bool(rows),
                "next_cursor": self._encode(rows[-1], fields, False) if rows and has_next else None,
                "previous_cursor": self._encode(rows[0], fields, True)
                if rows and has_previous
                else None,
            },
            rows,
        )

    async def apaginate(self, source: Any, values: dict[str, Any]) -> Page:
        qs, fields, reverse, from_cursor = self._query(source, values)
        return self._page([obj async for obj in qs], fields, reverse, from_cursor)

    def paginate(self, source: Any, values: dict[str, Any]) -> Page:
        qs, fields, reverse, from_cursor = self._query(source, values)
        return self._page(list(qs), fields, reverse, from_cursor)


def paginate(pagination_class: type[BasePagination] | BasePagination) -> Callable[..., Any]:
    """Turns a handler returning a QuerySet or list into one returning a page of it."""
    style = pagination_class() if isinstance(pagination_class, type) else pagination_class

    def decorator(handler: Callable[..., Any]) -> Callable[..., Any]:
        extra = style.parameters()
        names = [p.name for p in extra]
        sig = inspect.signature(handler)
        params = list(sig.parameters.values())
        # Keyword-only parameters go before **kwargs.
        at = next(
            (i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD),
            len(params),
        )
        params[at:at] = extra

        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def paged(*args: Any, **kwargs: Any) -> Page:
                values = {n: kwargs.pop(n, None) for n in names}
                source = await handler(*args, **kwargs)
                if isinstance(source, Page):
                    return source
                return await style.apaginate(source, values)

        else:

            @functools.wraps(handler)
            def paged(*args: Any, **kwargs: Any) -> Page:  # type: ignore[misc]
                values = {n: kwargs.pop(n, None) for n in names}
                source = handler(*args, **kwargs)
                if isinstance(source, Page):
                    return source
                return style.paginate(source, values)

        paged.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        paged.__bolt_pagination__ = style  # type: ignore[attr-defined]
        return paged

    return decorator
