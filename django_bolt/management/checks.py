"""Django system checks (``manage.py check``, and before every management command):
BOLT misconfiguration reported before runbolt starts.

- ``django_bolt.E001``: the site does not compile: a route conflict, a JWT secret that
  is too short, an API-key backend without keys, a bad guard or middleware... (the same
  message runbolt would stop with).
- ``django_bolt.E002``: a BOLT setting has a value runbolt refuses.
- ``django_bolt.W001``: an unknown BOLT setting (ignored).
"""

from __future__ import annotations

import warnings
from typing import Any

from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured

#: The tag of these checks. runbolt leaves them out of the checks it runs first: it
#: reports the same problems itself, in one line.
TAG = "django_bolt"


@register(TAG)
def check_site(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from ..server.site import compile_site

    try:
        compile_site()
    except (ImproperlyConfigured, ValueError, TypeError) as exc:
        return [
            Error(
                f"the API cannot be served: {exc}",
                hint="runbolt would stop with this error; fix the route or setting named",
                id="django_bolt.E001",
            )
        ]
    return []


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from ..conf import load_config

    found: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load_config()
        except (ValueError, TypeError) as exc:
            found.append(Error(f"BOLT settings: {exc}", id="django_bolt.E002"))
    for warning in caught:
        text = str(warning.message)
        if text.startswith("unknown BOLT setting"):
            found.append(
                Warning(
                    text, hint="see the settings table in docs/runbolt.md", id="django_bolt.W001"
                )
            )
    return found
