"""``Serializer``: a msgspec Struct whose ``validate_<field>`` methods check (and may
transform) a field after decoding, answered as 422 at that field's location.

    class UserSerializer(Serializer):
        name: str
        email: str

        def validate_email(self, value):
            if not value.endswith("@company.com"):
                raise ValidationError("Must use company email")
            return value
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

__all__ = ["FieldError", "Serializer", "ValidationError"]

#: What a ``validate_<field>`` method raises to refuse a value (Django's
#: ``ValidationError`` and ``ValueError`` are accepted too).
ValidationError = msgspec.ValidationError

_VALIDATORS: dict[type, list[tuple[str, Callable[[Any, Any], Any]]]] = {}


class FieldError(ValueError):
    """A field refused by its validator. msgspec adds the path of the enclosing struct
    when this is raised inside a nested one; the field's own name is in the message."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{message} - at `$.{field}`")


def _message(exc: BaseException) -> str:
    messages = getattr(exc, "messages", None)  # Django's ValidationError
    if isinstance(messages, list) and messages:
        return "; ".join(str(m) for m in messages)
    return str(exc) or type(exc).__name__


def _validators(cls: type) -> list[tuple[str, Callable[[Any, Any], Any]]]:
    found = _VALIDATORS.get(cls)
    if found is None:
        found = [
            (name, check)
            for name in cls.__struct_fields__  # type: ignore[attr-defined]
            if callable(check := getattr(cls, f"validate_{name}", None))
        ]
        _VALIDATORS[cls] = found
    return found


def _refusals() -> tuple[type[BaseException], ...]:
    try:
        from django.core.exceptions import ValidationError as DjangoValidationError
    except ImportError:  # pragma: no cover - Django is a dependency
        return (ValueError, msgspec.ValidationError)
    return (ValueError, msgspec.ValidationError, DjangoValidationError)


class Serializer(msgspec.Struct):
    """Fields are declared as on any Struct. After decoding, each ``validate_<field>(self,
    value)`` runs in field order and returns the value to keep; raising
    ``ValidationError`` (msgspec's or Django's) or ``ValueError`` refuses the body with
    422 and ``loc`` ``["body", "<field>"]`` (nested structs and lists included). A
    subclass that defines ``__post_init__`` calls ``super().__post_init__()``."""

    def __post_init__(self) -> None:
        for name, check in _validators(type(self)):
            try:
                value = check(self, getattr(self, name))
            except FieldError:
                raise
            except _refusals() as exc:
                raise FieldError(name, _message(exc)) from None
            setattr(self, name, value)
