"""``STATIC_URL`` served by Rust from ``STATIC_ROOT``, whatever DEBUG is, once
``collectstatic`` has filled it: the file index is built when runbolt starts, names that
carry the manifest's hash are cached for a year, every other file for
``BOLT["STATIC_MAX_AGE"]`` seconds (60)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..._core import StaticFiles
from ...conf import media_max_age, serve_media, static_max_age

MANIFEST = "staticfiles.json"


def collected_root() -> Path | None:
    """``STATIC_ROOT`` when it is set and holds collected files, else None."""
    from django.conf import settings

    root = getattr(settings, "STATIC_ROOT", None)
    if not root or not os.path.isdir(root):
        return None
    with os.scandir(root) as entries:
        if not any(True for _ in entries):
            return None
    return Path(root)


def url_prefix(url: str | None) -> str | None:
    """``static/`` or ``/static/`` -> ``/static/``; None for a URL on another host."""
    if not url or "://" in url or url.startswith("//"):
        return None
    stripped = url.strip("/")
    return f"/{stripped}/" if stripped else None


def hashed_names(root: Path) -> list[str]:
    """The names ``ManifestStaticFilesStorage`` gave a content hash (its manifest)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    paths = manifest.get("paths") if isinstance(manifest, dict) else None
    return [str(name) for name in (paths or {}).values()]


def static_files() -> StaticFiles | None:
    """The collected ``STATIC_ROOT`` indexed for Rust, or None when there is nothing to
    serve (then Django's finders answer in DEBUG, as under runserver)."""
    from django.conf import settings

    root = collected_root()
    prefix = url_prefix(getattr(settings, "STATIC_URL", None))
    if root is None or prefix is None:
        return None
    return StaticFiles(prefix, str(root), hashed_names(root), static_max_age())


def media_files() -> StaticFiles | None:
    """``MEDIA_ROOT`` at ``MEDIA_URL`` with ``BOLT = {"SERVE_MEDIA": True}``: looked up per
    request (uploads arrive while the server runs), with the static files' protections,
    and HTML, SVG and XML sent as downloads so an upload cannot run script on the site."""
    from django.conf import settings

    root = getattr(settings, "MEDIA_ROOT", None)
    prefix = url_prefix(getattr(settings, "MEDIA_URL", None))
    if not serve_media() or not root or prefix is None:
        return None
    os.makedirs(root, exist_ok=True)
    return StaticFiles(prefix, str(root), [], media_max_age(), attachments=True, live=True)


def static_mounts() -> list[StaticFiles]:
    """What runbolt (and the test client) serve from Rust."""
    return [found for found in (static_files(), media_files()) if found is not None]
