"""Alias of :mod:`django_bolt.params` (both spellings appear in the documentation)."""

from .routing.params import Body, Cookie, Depends, File, Form, Header, Param, Path, Query

__all__ = ["Param", "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends"]
