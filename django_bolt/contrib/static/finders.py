"""``STATIC_URL`` served from Django's static file finders, as ``runserver`` does in DEBUG."""

from __future__ import annotations

from typing import Any

from .serving import collected_root


def serves_from_finders() -> bool:
    """Whether the Django application answers ``STATIC_URL`` itself: in DEBUG, with
    ``django.contrib.staticfiles`` installed (what ``runserver`` does), while nothing has
    been collected into ``STATIC_ROOT`` (collected files are served by Rust)."""
    from django.apps import apps
    from django.conf import settings

    return (
        bool(settings.DEBUG)
        and apps.is_installed("django.contrib.staticfiles")
        and collected_root() is None
    )


def with_static_files(handler: Any) -> Any:
    """The WSGI ``handler`` with ``STATIC_URL`` answered from the finders first."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    return StaticFilesHandler(handler)
