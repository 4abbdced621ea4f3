"""Parameter markers: where a handler argument comes from, and its constraints."""

from .routing.params import Body, Cookie, Depends, File, Form, Header, Param, Path, Query

__all__ = ["Param", "Query", "Path", "Header", "Cookie", "Body", "Form", "File", "Depends"]
