"""Coercing request strings into annotated types, and validation errors with locations."""

from __future__ import annotations

import enum
import functools
import inspect
import operator
import re
import types
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

_NONE_TYPES = (type(None),)


class ParamError(Exception):
    def __init__(self, loc: list[Any], msg: str, type_: str) -> None:
        self.error = {"loc": loc, "msg": msg, "type": type_}


def unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` / ``Optional[X]`` -> (X, True); anything else -> (tp, False)."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(tp) if a not in _NONE_TYPES]
        if len(args) != len(get_args(tp)):
            if len(args) == 1:
                return args[0], True
            return functools.reduce(operator.or_, args), True
    return tp, False


def is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def is_sequence(tp: Any) -> bool:
    return get_origin(tp) in (list, tuple, set, frozenset)


def error_type(msg: str) -> str:
    if msg.startswith("Expected `") and any(op in msg for op in (" >= ", " <= ", " > ", " < ")):
        return "value_error"
    if "length" in msg or "match pattern" in msg:
        return "value_error"
    if msg.startswith("Object missing required field"):
        return "missing"
    if msg.startswith("Expected") or msg.startswith("Invalid"):
        return "type_error"
    return "value_error"


_AT = re.compile(r" - at `\$([^`]*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]+)\]")


def validation_error_entry(exc: msgspec.ValidationError, base: list[Any]) -> dict[str, Any]:
    """Turns msgspec's ``Expected `int`, got `str` - at `$.a[0]``` into a loc list."""
    msg = str(exc)
    # A field validator's error carries its field's path, and msgspec appends the path of
    # the struct it sits in: the last suffix is the outermost.
    paths: list[str] = []
    while m := _AT.search(msg):
        msg = msg[: m.start()]
        paths.append(m.group(1))
    loc = list(base)
    for path in paths:
        for name, index, key in _PATH_PART.findall(path):
            if name:
                loc.append(name)
            elif index:
                loc.append(int(index))
            else:
                loc.append(key.strip("'\""))
    missing = re.match(r"Object missing required field `(.+)`", msg)
    if missing:
        loc.append(missing.group(1))
        return {"loc": loc, "msg": "Field required", "type": "missing"}
    unknown = re.match(r"Object contains unknown field `(.+)`", msg)
    if unknown:
        loc.append(unknown.group(1))
        return {"loc": loc, "msg": "Unknown field (or read-only)", "type": "extra_forbidden"}
    return {"loc": loc, "msg": msg, "type": error_type(msg)}


def loc_msg(exc: msgspec.ValidationError, base: list[Any]) -> tuple[list[Any], str, str]:
    entry = validation_error_entry(exc, base)
    return entry["loc"], entry["msg"], entry["type"]


#: Integers from the URL are 64-bit, as a database column or Rust would take them.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
INT_RANGE = "Expected `int` >= -9223372036854775808 and <= 9223372036854775807"


def in_int_range(value: Any) -> Any:
    if type(value) is int and not INT_MIN <= value <= INT_MAX:
        raise ValueError(INT_RANGE)
    return value


def scalar_converter(tp: Any, constraints: dict[str, Any]) -> Callable[[str], Any]:
    """Coerces one string from the URL into ``tp``; raises ValueError with a message."""
    if constraints:
        target = Annotated[tp, msgspec.Meta(**constraints)]

        def convert_constrained(raw: Any) -> Any:
            try:
                value = msgspec.convert(raw, target, strict=False)
            except msgspec.ValidationError as exc:
                raise ValueError(str(exc)) from None
            return in_int_range(value)

        return convert_constrained
    if tp is str or tp is Any or tp is inspect.Parameter.empty:
        return str
    if tp is int:

        def to_int(raw: str) -> int:
            s = raw[1:] if raw[:1] in "+-" else raw
            if not (s.isascii() and s.isdigit()):
                raise ValueError("Expected `int`")
            if len(s) > 19:
                raise ValueError(INT_RANGE)
            return in_int_range(int(raw))

        return to_int
    if tp is float:

        def to_float(raw: str) -> float:
            try:
                return float(raw)
            except ValueError:
                raise ValueError("Expected `float`") from None

        return to_float
    if tp is bool:
        truthy = {"true", "1", "yes", "on"}
        falsy = {"false", "0", "no", "off"}

        def to_bool(raw: str) -> bool:
            low = raw.lower()
            if low in truthy:
                return True
            if low in falsy:
                return False
            raise ValueError("Expected `bool`")

        return to_bool
    if tp is uuid.UUID:

        def to_uuid(raw: str) -> uuid.UUID:
            try:
                return uuid.UUID(raw)
            except ValueError:
                raise ValueError("Expected `uuid`") from None

        return to_uuid
    if isinstance(tp, type) and issubclass(tp, enum.Enum):

        def to_enum(raw: str) -> Any:
            try:
                return msgspec.convert(raw, tp, strict=False)
            except msgspec.ValidationError as exc:
                raise ValueError(str(exc)) from None

        return to_enum

    def to_any(raw: Any) -> Any:
        try:
            return msgspec.convert(raw, tp, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None

    return to_any


FAST_KINDS = {str: "str", int: "int", float: "float", bool: "bool", Any: "str"}
