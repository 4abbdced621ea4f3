"""Path syntax: ``/users/{id}`` and ``/files/{rest:path}``, joining prefixes, and the
equivalent Django URL regex."""

from __future__ import annotations

import re

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: The router's pseudo-method for WebSocket routes.
WEBSOCKET = "WEBSOCKET"
_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


def path_param_names(path: str) -> list[str]:
    return [m.group(1) for m in _PARAM.finditer(path)]


def join_paths(*parts: str) -> str:
    """Joins mount prefix, API prefix and route path into one absolute path."""
    out = ""
    for part in parts:
        if not part:
            continue
        if out and not out.endswith("/"):
            out += "/"
        out += part.lstrip("/") if out else part
    if not out.startswith("/"):
        out = "/" + out
    return out


def django_regex(path: str) -> str:
    """``/users/{id}`` -> ``^users/(?P<id>[^/]+)$`` (relative to the include prefix)."""
    out = ["^"]
    pos = 0
    rel = path.lstrip("/")
    for m in _PARAM.finditer(rel):
        out.append(re.escape(rel[pos : m.start()]))
        kind = m.group(2)
        out.append(f"(?P<{m.group(1)}>{'.+' if kind == 'path' else '[^/]+'})")
        pos = m.end()
    out.append(re.escape(rel[pos:]))
    out.append("$")
    return "".join(out)
