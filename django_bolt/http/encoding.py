"""JSON encoding shared by responses and handlers."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import msgspec


def _enc_hook(obj: Any) -> Any:
    # Django lazy strings, querysets and other iterables that msgspec does not know.
    from django.db.models import Model, QuerySet
    from django.utils.functional import Promise

    if isinstance(obj, Promise):
        return str(obj)
    if isinstance(obj, QuerySet):
        return list(obj.values()) if obj._fields is None else list(obj)
    if isinstance(obj, Model):
        raise TypeError(
            f"cannot encode {type(obj).__name__} instance as JSON: return a dict or a "
            "msgspec.Struct, or declare a response type"
        )
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    if isinstance(obj, (datetime.date, datetime.time, decimal.Decimal, uuid.UUID)):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)
json_encode = _encoder.encode
