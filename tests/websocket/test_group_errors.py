"""Group names and a group backend that cannot be reached, as documented: names are 1 to
200 characters without whitespace; with Redis down ``group_send`` raises ``GroupError``."""

import socket
import time

import pytest

from django_bolt.websocket import GroupError, groups


@pytest.fixture
def fresh_hub(monkeypatch):
    """A hub built from the settings of the test (the process's own is kept aside)."""
    monkeypatch.setattr(groups, "_hub", None)


def test_group_names_are_checked(fresh_hub):
    groups.group_send_sync("x" * 200, "fine")
    for bad in ("", "x" * 201, "two words", "tab\there", "line\nbreak"):
        with pytest.raises(ValueError, match="group name"):
            groups.group_send_sync(bad, "refused")


def test_an_unreachable_redis_is_a_group_error(settings, fresh_hub):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.BOLT_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    started = time.monotonic()
    with pytest.raises(GroupError):
        groups.group_send_sync("room", {"text": "lost"})
    assert time.monotonic() - started < 30  # bounded, never a hang


async def test_an_unreachable_redis_is_a_group_error_in_async_code(settings, fresh_hub):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.BOLT_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    with pytest.raises(GroupError):
        await groups.group_send("room", "lost")
