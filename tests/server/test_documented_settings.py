"""The settings table of docs/runbolt.md is what the code does: every documented default is
the default ``load_config`` gives a project that sets nothing, keys are read whatever their
case, and a key the table does not know is reported."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from django_bolt import conf
from django_bolt.conf import load_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "runbolt.md"
MIB = 1024 * 1024


def documented() -> dict[str, str]:
    """``BOLT`` key -> the table's default cell, for every row that names a key."""
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (key := re.fullmatch(r"`([A-Z_]+)`", cells[1])):
            rows[key.group(1)] = cells[2]
    return rows


def value_of(cell: str):
    """The value a default cell states: a literal in backticks, "N MiB", "off" or blank."""
    if match := re.search(r"(\d+) MiB", cell):
        return int(match.group(1)) * MIB
    if cell in ("off", ""):
        return None
    literal = re.match(r"`([^`]+)`", cell).group(1)
    return int(literal) if literal.isdigit() else literal


# Cells that describe their default in words, and what they mean.
SPOKEN = {
    "UDS_MODE": 0o660,  # `660`, octal
    "FORWARDED_ALLOW_IPS": ["127.0.0.1", "::1"],  # unless BOLT_TRUSTED_PROXIES says
    "ACCESS_LOG_FORMAT": "",  # gunicorn's line plus duration and request id
    "LOG_LEVEL": None,  # the project's LOGGING decides
    "DEBUG": False,  # settings.DEBUG, False under the tests
    "ACCESS_LOG": False,
    "ROOT_PATH": "",  # none: the site is at the root
    "WS_ALLOWED_ORIGINS": None,  # none set: the pages of ALLOWED_HOSTS
}
# Keys read where they are used rather than by load_config.
ELSEWHERE = {
    "WS_ALLOWED_ORIGINS": conf.websocket_allowed_origins,
    "STATIC_MAX_AGE": conf.static_max_age,
    "SERVE_MEDIA": conf.serve_media,
    "MEDIA_MAX_AGE": conf.media_max_age,
    "FORWARDED_ALLOW_IPS": conf.trusted_proxies,
}


def test_the_table_names_every_key_the_code_reads():
    assert set(documented()) == set(conf._KEYS) | conf._ACCEPTED_ELSEWHERE


def test_every_documented_default_is_the_default(settings):
    settings.BOLT = {}
    settings.DEBUG = False
    for name in ("BOLT_MAX_UPLOAD_SIZE", "BOLT_MEMORY_SPOOL_THRESHOLD", "BOLT_TRUSTED_PROXIES"):
        if hasattr(settings, name):
            delattr(settings, name)
    config = load_config()
    checked = []
    for key, cell in documented().items():
        expected = SPOKEN[key] if key in SPOKEN else value_of(cell)
        if key in ELSEWHERE:
            actual = ELSEWHERE[key]()
            if key == "SERVE_MEDIA":
                expected = False
        else:
            actual = getattr(config, conf._KEYS[key])
        assert actual == expected, f"{key}: documented {cell!r}, the code gives {actual!r}"
        checked.append(key)
    assert len(checked) == len(documented())


def test_the_upload_size_setting_is_the_api_body_limit_unless_bolt_says(settings):
    settings.BOLT = {}
    settings.BOLT_MAX_UPLOAD_SIZE = 2048
    settings.BOLT_MEMORY_SPOOL_THRESHOLD = 512
    assert (load_config().max_body_size, load_config().spool_threshold) == (2048, 512)
    settings.BOLT = {"MAX_BODY_SIZE": 4096}
    assert load_config().max_body_size == 4096


def test_keys_are_read_whatever_their_case(settings):
    settings.BOLT = {
        "serve_media": True,
        "Static_Max_Age": 5,
        "media_max_age": 7,
        "ws_allowed_origins": ["https://a.example"],
        "forwarded_allow_ips": "10.0.0.1, 10.0.0.2",
        "threads": 3,
        "Keep_Alive": 0,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config()
    assert (config.threads, config.keep_alive) == (3, 0.0)
    assert conf.serve_media() is True
    assert (conf.static_max_age(), conf.media_max_age()) == (5, 7)
    assert conf.websocket_allowed_origins() == ["https://a.example"]
    assert conf.trusted_proxies() == ["10.0.0.1", "10.0.0.2"]


def test_an_unknown_key_is_reported_and_ignored(settings):
    settings.BOLT = {"THREADZ": 8, "threads": 3}
    with pytest.warns(UserWarning, match="unknown BOLT setting 'THREADZ' is ignored"):
        config = load_config()
    assert config.threads == 3


def test_flags_win_over_the_settings(settings):
    settings.BOLT = {"PORT": 9000, "THREADS": 3}
    config = load_config(port=9100, threads=None)
    assert (config.port, config.threads) == (9100, 3)
