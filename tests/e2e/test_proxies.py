"""Behind a proxy: the client address and scheme a trusted proxy forwards reach API
handlers, Django views, rate limits and the access log; from other peers the headers
are ignored."""

import time

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_the_local_proxy_is_trusted_by_default(bolt):
    with bolt("--access-log") as server, httpx.Client(base_url=server.url) as client:
        page = client.get("/django/whoami/", headers=FORWARDED).json()
        assert page == {
            "remote_addr": "203.0.113.7",
            "secure": True,
            "uri": f"https://127.0.0.1:{server.port}/django/whoami/",
        }
        api = client.get("/api/whoami", headers=FORWARDED).json()
        assert api == {"client": "203.0.113.7", "scheme": "https"}
        # RFC 7239's header says the same.
        rfc = {"Forwarded": 'for="[2001:db8::5]:4711";proto=https'}
        assert client.get("/api/whoami", headers=rfc).json() == {
            "client": "2001:db8::5",
            "scheme": "https",
        }
        # The access log names the client, not the proxy.
        deadline = time.monotonic() + 10
        while "203.0.113.7 - - [" not in server.log:
            assert time.monotonic() < deadline, server.log
            time.sleep(0.02)


def test_headers_from_an_untrusted_peer_are_ignored(bolt):
    with bolt("--forwarded-allow-ips", "10.0.0.0/8") as server:
        with httpx.Client(base_url=server.url) as client:
            page = client.get("/django/whoami/", headers=FORWARDED).json()
            assert page["remote_addr"] == "127.0.0.1" and page["secure"] is False
            assert client.get("/api/whoami", headers=FORWARDED).json() == {
                "client": "127.0.0.1",
                "scheme": "http",
            }


def test_every_peer_with_a_star(bolt):
    with bolt("--forwarded-allow-ips", "*") as server:
        api = httpx.get(f"{server.url}/api/whoami", headers=FORWARDED).json()
        assert api == {"client": "203.0.113.7", "scheme": "https"}
