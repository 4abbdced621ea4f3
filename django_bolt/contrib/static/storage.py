"""``CompressedManifestStaticFilesStorage``: Django's manifest storage (content-hashed
names, so runbolt can cache them for a year) that also writes ``.br`` and ``.gz``
siblings of compressible files at ``collectstatic``, kept only where they save at least
5%. Compression runs in Rust (no Python dependency)::

    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django_bolt.contrib.static.storage.CompressedManifestStaticFilesStorage"
        },
    }
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

from ..._core import precompress

#: Formats that compress; images, fonts in woff/woff2 and archives already are.
COMPRESSIBLE = {
    ".css",
    ".js",
    ".mjs",
    ".map",
    ".json",
    ".svg",
    ".txt",
    ".html",
    ".htm",
    ".xml",
    ".ico",
    ".ttf",
    ".otf",
    ".eot",
    ".wasm",
    ".md",
    ".csv",
}


class CompressedManifestStaticFilesStorage(ManifestStaticFilesStorage):
    min_saving = 0.05

    def post_process(self, paths: Any, dry_run: bool = False, **options: Any) -> Iterator[Any]:
        yield from super().post_process(paths, dry_run, **options)
        if not dry_run:
            self.compress_all()

    def compress_all(self) -> list[str]:
        """Writes the siblings of every compressible file under the storage's root (files
        whose siblings are newer than they are were done by an earlier run)."""
        written: list[str] = []
        for folder, _, names in os.walk(self.location):
            for name in names:
                if os.path.splitext(name)[1].lower() not in COMPRESSIBLE:
                    continue
                path = os.path.join(folder, name)
                if _compressed_since(path):
                    continue
                written += precompress(path, self.min_saving)
        return written


def _compressed_since(path: str) -> bool:
    source = os.stat(path).st_mtime
    for ext in (".br", ".gz"):
        try:
            if os.stat(path + ext).st_mtime >= source:
                return True
        except FileNotFoundError:
            continue
    return False
