"""The runbolt side of ``run_bolt(test_database=True)`` / the ``bolt_server`` fixture:
a process started with ``BOLT_TEST_DATABASES`` uses the databases the test process gave
it (the test databases) in place of those its settings name."""

from __future__ import annotations

import json
import os

ENV = "BOLT_TEST_DATABASES"


def use_test_databases() -> bool:
    """Applies ``BOLT_TEST_DATABASES`` (at app loading, before any connection opens);
    True when it did."""
    raw = os.environ.get(ENV)
    if not raw:
        return False
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.db import connections

    try:
        chosen = json.loads(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{ENV} is not JSON: {exc}") from None
    for alias, values in chosen.items():
        if alias not in settings.DATABASES:
            raise ImproperlyConfigured(f"{ENV} names a database {alias!r} the settings lack")
        settings.DATABASES[alias].update(values)
        connections.settings[alias].update(values)
    return True
