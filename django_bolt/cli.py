"""The ``django_bolt`` command line: ``python -m django_bolt init`` (see
``django_bolt.management.cli``)."""

from .management.cli import main

__all__ = ["main"]
