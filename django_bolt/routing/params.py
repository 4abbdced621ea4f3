"""Parameter markers: where a handler argument comes from, and its constraints.

A marker can be the argument's default (``limit: int = Query(10, ge=1)``) or sit inside
``Annotated`` (``limit: Annotated[int, Query(ge=1)] = 10``). The first positional argument
is the *default* when the marker is the default value, and the *alias* (the name on the
wire) when the marker sits inside ``Annotated``, where the default is the parameter's own
``= value``. Keywords (``default=``, ``alias=``) always mean what they say.
"""

from __future__ import annotations

from typing import Any

_UNSET: Any = type("Unset", (), {"__repr__": lambda self: "<unset>"})()


class Param:
    source: str = "query"

    def __init__(
        self,
        *positional: Any,
        default: Any = _UNSET,
        alias: str | None = None,
        description: str | None = None,
        title: str | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: str | None = None,
        examples: list[Any] | None = None,
        deprecated: bool = False,
        include_in_schema: bool = True,
    ) -> None:
        name = type(self).__name__
        if len(positional) > 1:
            raise TypeError(f"{name}() takes one positional argument (a default, or an alias)")
        if positional and default is not _UNSET:
            raise TypeError(f"{name}() got a positional argument and default=")
        # Inside Annotated a positional string is the alias; a keyword is what it says.
        self._positional = bool(positional)
        self.default = positional[0] if positional else default
        self.alias = alias
        self.description = description
        self.title = title
        self.constraints = {
            k: v
            for k, v in (
                ("ge", ge),
                ("gt", gt),
                ("le", le),
                ("lt", lt),
                ("min_length", min_length),
                ("max_length", max_length),
                ("pattern", pattern),
            )
            if v is not None
        }
        self.examples = examples
        self.deprecated = deprecated
        self.include_in_schema = include_in_schema

    def as_annotated_marker(self) -> Param:
        """The marker seen inside ``Annotated``: a positional string names the alias."""
        if self._positional and isinstance(self.default, str) and self.alias is None:
            clone = object.__new__(type(self))
            clone.__dict__.update(self.__dict__)
            clone.alias = self.default
            clone.default = _UNSET
            return clone
        return self

    @property
    def required(self) -> bool:
        return self.default is _UNSET or self.default is ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}(default={self.default!r}, alias={self.alias!r})"


class Query(Param):
    source = "query"


class Path(Param):
    source = "path"


class Header(Param):
    source = "header"


class Cookie(Param):
    source = "cookie"


class Body(Param):
    source = "body"


class Form(Param):
    """A field of an urlencoded or multipart form."""

    source = "form"


class File(Param):
    """An uploaded file (``UploadFile``, ``list[UploadFile]``, ``bytes``).

    ``max_size`` / ``min_size`` bound each file in bytes, ``allowed_types`` lists the
    accepted content types (``"image/*"`` matches any image), ``max_files`` bounds a list.
    """

    source = "file"

    def __init__(
        self,
        *positional: Any,
        alias: str | None = None,
        description: str | None = None,
        max_size: int | None = None,
        min_size: int | None = None,
        allowed_types: list[str] | None = None,
        max_files: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*positional, alias=alias, description=description, **kwargs)
        self.max_size = max_size
        self.min_size = min_size
        self.allowed_types = list(allowed_types) if allowed_types else None
        self.max_files = max_files


class Depends:
    """A value computed by ``dependency`` for each request.

    The dependency is any callable (function, async function, class) whose own arguments
    are resolved like a handler's: the request, path/query/header/cookie values, and other
    ``Depends``. Within one request each dependency runs once and its value is shared by
    everything that asks for it, unless ``use_cache=False``. ``Depends()`` without a
    callable uses the parameter's annotation (a class) as the dependency.
    """

    def __init__(self, dependency: Any = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name}{'' if self.use_cache else ', use_cache=False'})"


__all__ = ["Param", "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends"]
