"""Serializers: ``ModelSerializer`` (msgspec types, validation and encoding derived from a
Django model) and ``Serializer`` (a msgspec Struct with ``validate_<field>`` methods)."""

from .routing.serializers import ModelSerializer
from .routing.validators import Serializer, ValidationError

__all__ = ["ModelSerializer", "Serializer", "ValidationError"]
