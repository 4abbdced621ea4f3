"""One ``ServerSettings`` object, built from the project's BOLT settings, drives both the
real server and the in-process test app: tests run under the limits production has."""

from __future__ import annotations

import pytest

from django_bolt import BoltAPI
from django_bolt._core import ServerSettings
from django_bolt.conf import load_config
from django_bolt.testing import TestClient

api = BoltAPI(openapi_url=None)


@api.post("/echo")
async def echo(request):
    return {"size": len(request.body)}


def test_the_test_app_applies_the_projects_body_limit(settings):
    settings.BOLT = {"MAX_BODY_SIZE": 2048}
    with TestClient(api, django_fallback=False) as client:
        assert client.post("/echo", content=b"x" * 2048).json() == {"size": 2048}
        too_big = client.post("/echo", content=b"x" * 2049)
    assert too_big.status_code == 413


def test_config_becomes_the_settings_object(settings):
    settings.BOLT = {
        "MAX_BODY_SIZE": 4096,
        "BODY_TIMEOUT": 7,
        "MEMORY_SPOOL_THRESHOLD": 100,
        "WS_MAX_MESSAGE": 512,
        "WS_MAX_CONNECTIONS": 9,
        "KEEP_ALIVE": 0,
    }
    built = load_config(port=8123, workers=3).server_settings(asgi_websockets=True)
    assert (
        built.port,
        built.workers,
        built.max_body_size,
        built.body_timeout,
        built.spool_threshold,
        built.ws_max_message,
        built.ws_max_connections,
        built.keep_alive,
        built.asgi_websockets,
    ) == (8123, 3, 4096, 7.0, 100, 512, 9, 0.0, True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be at least 1"),
        ({"backlog": 0}, "backlog must be at least 1"),
        ({"max_body_size": 0}, "must be positive"),
        ({"body_timeout": 0.0}, "body_timeout positive"),
        ({"keep_alive": -1.0}, "not negative"),
        ({"ws_ping_timeout": float("inf")}, "finite"),
    ],
)
def test_impossible_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ServerSettings(**kwargs)
