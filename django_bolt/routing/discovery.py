"""Finding the APIs a site serves: every Router mount in the URLconf with its prefix
(which ``runbolt`` compiles into the Rust router), or, for projects that mount nothing,
the Routers found in ``api`` modules."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import re
from typing import Any

from .router import Router

logger = logging.getLogger("django_bolt")

_REGEX_META = re.compile(r"[\\.^$*+?{}\[\]|()]")


def _literal_prefix(pattern: Any) -> str | None:
    """The literal text a URL pattern matches, or None when it is not a plain string."""
    route = getattr(pattern, "_route", None)
    if route is not None:
        return None if "<" in route else route
    regex = getattr(pattern, "_regex", None)
    if regex is None:
        return None
    if regex.startswith("^"):
        regex = regex[1:]
    unescaped = re.sub(r"\\(.)", r"\1", regex)
    if _REGEX_META.search(regex.replace("\\/", "").replace("\\-", "").replace("\\.", "")):
        return None
    return unescaped


def find_mounts(urlconf: str | None = None) -> list[tuple[str, Router]]:
    """Every (prefix, api) mounted in the URLconf, in URL order."""
    from django.urls import URLPattern, URLResolver, get_resolver

    mounts: list[tuple[str, Router]] = []
    seen: set[tuple[str, int]] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                seg = _literal_prefix(p.pattern)
                if seg is None:
                    apis = _apis_in(p.url_patterns)
                    if apis:
                        logger.warning(
                            "BoltAPI mounted under the non-literal URL pattern %r is served "
                            "through Django's URL resolver, not the Rust router",
                            str(p.pattern),
                        )
                    continue
                walk(p.url_patterns, prefix + seg)
            elif isinstance(p, URLPattern):
                api = getattr(p.callback, "bolt_api", None)
                if api is not None and (prefix, id(api)) not in seen:
                    seen.add((prefix, id(api)))
                    mounts.append((prefix, api))

    walk(get_resolver(urlconf).url_patterns, "")
    return mounts


def _apis_in(patterns: list[Any]) -> list[Any]:
    from django.urls import URLResolver

    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            found.extend(_apis_in(p.url_patterns))
        elif getattr(getattr(p, "callback", None), "bolt_api", None) is not None:
            found.append(p.callback.bolt_api)
    return found


def autodiscover() -> list[tuple[str, Router]]:
    """For projects that mount nothing: every BoltAPI found in an ``api`` module of the
    project package or of an installed app, served at the site root."""
    from django.apps import apps
    from django.conf import settings

    candidates = []
    settings_module = getattr(settings, "SETTINGS_MODULE", None) or os.environ.get(
        "DJANGO_SETTINGS_MODULE", ""
    )
    for module in (settings_module, getattr(settings, "ROOT_URLCONF", "")):
        if module and "." in module:
            candidates.append(module.rsplit(".", 1)[0] + ".api")
    candidates.extend(f"{cfg.name}.api" for cfg in apps.get_app_configs())
    mounts: list[tuple[str, Router]] = []
    seen: set[int] = set()
    for name in dict.fromkeys(candidates):
        try:
            if importlib.util.find_spec(name) is None:
                continue
        except (ImportError, ValueError):
            continue
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, Router) and id(value) not in seen:
                seen.add(id(value))
                mounts.append(("", value))
    return mounts
