"""ModelSerializer: msgspec types, validation and encoding derived from a Django model."""

from .routing.serializers import ModelSerializer

__all__ = ["ModelSerializer"]
