"""Setting Django up outside ``manage.py``: scripts, notebooks, a worker of your own.

from django_bolt.bootstrap import ensure_django_ready

ensure_django_ready()            # DJANGO_SETTINGS_MODULE, else the one manage.py names
from myapp.models import Article # models import now
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

__all__ = ["ensure_django_ready", "settings_module_of"]

_SETTINGS_IN_MANAGE = re.compile(
    r"""os\.environ\.setdefault\(\s*["']DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']"""
)


def settings_module_of(project: str | os.PathLike[str]) -> str | None:
    """The settings module a project's ``manage.py`` names, or None."""
    manage = Path(project) / "manage.py"
    try:
        text = manage.read_text()
    except OSError:
        return None
    found = _SETTINGS_IN_MANAGE.search(text)
    return found.group(1) if found else None


def ensure_django_ready(
    settings_module: str | None = None, project: str | os.PathLike[str] | None = None
) -> str:
    """Configures and sets up Django once; returns the settings module used.

    The module is ``settings_module``, else ``DJANGO_SETTINGS_MODULE``, else the one the
    ``manage.py`` of ``project`` (default: the current directory) names; that directory
    is put on ``sys.path`` so the project's packages import. Calling it again does
    nothing. A project that cannot be found is an ``ImproperlyConfigured`` that says
    what to set."""
    import django
    from django.apps import apps
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if settings.configured and apps.ready:
        return os.environ.get("DJANGO_SETTINGS_MODULE", "")
    root = Path(project) if project is not None else Path.cwd()
    module = settings_module or os.environ.get("DJANGO_SETTINGS_MODULE") or settings_module_of(root)
    if not module:
        raise ImproperlyConfigured(
            "no Django settings: pass settings_module=..., set DJANGO_SETTINGS_MODULE, "
            f"or run from the directory holding manage.py (looked in {root.resolve()})"
        )
    if str(root.resolve()) not in sys.path:
        sys.path.insert(0, str(root.resolve()))
    os.environ["DJANGO_SETTINGS_MODULE"] = module
    django.setup()
    return module
