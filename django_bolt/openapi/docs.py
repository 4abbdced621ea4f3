"""The routes that serve the OpenAPI document and the documentation UIs."""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..http.responses import HTML, FileResponse, Response
from ..routing.paths import join_paths
from . import assets
from .schema import build_document

if TYPE_CHECKING:
    from ..routing.router import Router

UI_DIR = Path(__file__).resolve().parent / "ui"

#: Everything the pages load comes from the site: no CDN, no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)

PAGES = {
    "docs": (
        "Swagger UI",
        ["swagger-ui.css"],
        ["swagger-ui-bundle.js", "swagger-init.js"],
        "swagger-ui",
    ),
    "redoc": ("ReDoc", [], ["redoc.standalone.js", "redoc-init.js"], "redoc"),
    "scalar": ("Scalar", [], ["scalar.standalone.js", "scalar-init.js"], "scalar"),
    "rapiddoc": ("RapiDoc", [], ["rapidoc-min.js"], None),
}
SERVED = {name for _, css, js, _ in PAGES.values() for name in (*css, *js)}


def _page(
    title: str,
    api_title: str,
    base: str,
    css: list[str],
    js: list[str],
    mount: str | None,
    schema_url: str,
) -> str:
    links = "".join(f'<link rel="stylesheet" href="{base}/{c}">' for c in css)
    scripts = "".join(f'<script src="{base}/{j}"></script>' for j in js)
    url = html.escape(schema_url, quote=True)
    if mount is None:  # RapiDoc is a web component
        body = (
            f'<rapi-doc spec-url="{url}" render-style="read" show-header="false" '
            'allow-try="true" load-fonts="false" regular-font="system-ui, sans-serif" '
            'mono-font="ui-monospace, monospace"></rapi-doc>'
        )
    else:
        body = f'<div id="{mount}" data-url="{url}"></div>'
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(api_title)} - {title}</title>{links}</head>"
        f"<body>{body}{scripts}</body></html>"
    )


def is_docs_route(route: Any) -> bool:
    """True for the routes ``add_docs_routes`` registers."""
    return getattr(route.handler, "bolt_docs", False)


def add_docs_routes(api: Router, openapi_url: str, docs: bool) -> None:
    """Registers ``openapi_url`` and, with ``docs``, the four UI pages and their assets."""
    cache: dict[tuple[Any, ...], bytes] = {}
    lock = threading.Lock()
    schema_path = join_paths(api.prefix, openapi_url) if api.prefix else openapi_url

    def mount_of(request: Any, own_path: str) -> str:
        path = request.path
        return path[: len(path) - len(own_path)] if path.endswith(own_path) else ""

    @api.get(openapi_url, include_in_schema=False, auth=[], guards=[], name="openapi.json")
    async def openapi_json(request: Any) -> Response:
        import msgspec

        mount = mount_of(request, schema_path)
        key = (mount, *map(id, api.docs_with))
        body = cache.get(key)
        if body is None:
            with lock:
                body = cache.get(key)
                if body is None:
                    body = cache[key] = msgspec.json.encode(build_document(api, mount))
        return Response(body, media_type="application/json")

    openapi_json.bolt_docs = True  # type: ignore[attr-defined]
    if not docs:
        return

    def make_page(slug: str) -> None:
        title, css, js, mount_id = PAGES[slug]
        page_path = join_paths(api.prefix, f"/{slug}") if api.prefix else f"/{slug}"

        async def page(request: Any) -> Response:
            mount = mount_of(request, page_path)
            base = (
                f"{mount}{join_paths(api.prefix, '/docs/assets') if api.prefix else '/docs/assets'}"
            )
            if not set(css + js).isdisjoint(assets.missing()):
                return HTML(
                    "<h1>Documentation assets are missing</h1><p>This installation of "
                    "django_bolt lacks the files of its documentation pages: reinstall it, or "
                    "run <code>python -m django_bolt.openapi.assets --update</code> to "
                    "download them again; they are then served from this site.</p>",
                    status_code=503,
                )
            text = _page(title, api.info.title, base, css, js, mount_id, f"{mount}{schema_path}")
            return HTML(text, headers={"Content-Security-Policy": CSP})

        page.__name__ = f"{slug}_page"
        page.bolt_docs = True  # type: ignore[attr-defined]
        api.get(f"/{slug}", include_in_schema=False, auth=[], guards=[], name=f"docs.{slug}")(page)

    for slug in PAGES:
        make_page(slug)

    @api.get("/docs/assets/{name}", include_in_schema=False, auth=[], guards=[], name="docs.assets")
    async def docs_asset(name: str) -> Any:
        if name not in SERVED:
            return Response({"detail": "Not Found"}, status_code=404)
        folder = UI_DIR if (UI_DIR / name).is_file() else assets.STATIC
        return FileResponse(
            name,
            root=folder,
            headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
        )

    docs_asset.bolt_docs = True  # type: ignore[attr-defined]
