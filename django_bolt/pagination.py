"""Pagination styles and ``@paginate``."""

from .routing.pagination import (
    BasePagination,
    CursorPagination,
    LimitOffsetPagination,
    Page,
    PageNumberPagination,
    paginate,
)

__all__ = [
    "BasePagination",
    "CursorPagination",
    "LimitOffsetPagination",
    "PageNumberPagination",
    "Page",
    "paginate",
]
