"""``python manage.py export_openapi``: the site's OpenAPI document, as ``/openapi.json``
serves it, written to a file or stdout (for client generators, reviews, CI diffs)."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Write the OpenAPI document of the site's APIs (every mount) as JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "-o", "--output", help="File to write (default: stdout); parent folders are made."
        )
        parser.add_argument(
            "--mount",
            help="Only the API mounted at this prefix (e.g. /api/); default: all of them.",
        )
        parser.add_argument("--indent", type=int, default=2, help="JSON indent (0: compact).")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.core.exceptions import ImproperlyConfigured

        from ...openapi.schema import build_document
        from ...server.site import compile_site

        try:
            site = compile_site()
        except (ImproperlyConfigured, ValueError, TypeError) as exc:
            raise CommandError(f"the API cannot be compiled: {exc}") from None
        shared = {id(other) for _, router in site.mounts for other in router.docs_with}
        places = [(p, r) for p, r in site.mounts if id(r) not in shared]
        wanted = options.get("mount")
        if wanted is not None:
            places = [(p, r) for p, r in places if _slashed(p) == _slashed(wanted)]
            if not places:
                mounts = ", ".join(sorted({p or "/" for p, _ in site.mounts})) or "none"
                raise CommandError(f"no API mounted at {wanted!r} (mounts: {mounts})")
        if not places:
            raise CommandError("the site serves no API (nothing mounted or discovered)")
        document = merge([build_document(router, prefix) for prefix, router in places])
        indent = options["indent"] or None
        text = json.dumps(document, indent=indent, sort_keys=False, default=str) + "\n"
        output = options.get("output")
        if output:
            from pathlib import Path

            path = Path(output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            paths = len(document.get("paths", {}))
            self.stderr.write(f"wrote {path} ({paths} paths)")
        else:
            sys.stdout.write(text)


def _slashed(prefix: str) -> str:
    inner = prefix.strip("/")
    return f"/{inner}/" if inner else "/"


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One document: the first's info, every document's paths, components and tags."""
    merged = json.loads(json.dumps(documents[0], default=str))
    for doc in documents[1:]:
        merged.setdefault("paths", {}).update(doc.get("paths", {}))
        for kind, items in doc.get("components", {}).items():
            merged.setdefault("components", {}).setdefault(kind, {}).update(items)
        names = {t.get("name") for t in merged.get("tags", [])}
        merged.setdefault("tags", []).extend(
            t for t in doc.get("tags", []) if t.get("name") not in names
        )
    return merged
