"""HTTPS from runbolt itself: rustls on the listening socket, HTTP/2 by ALPN beside
HTTP/1.1, https seen by API handlers and Django, WebSockets over TLS, and clear errors
for bad certificate files."""

import ssl

import httpx
import pytest
from websockets.sync.client import connect

from tests.conftest import ROOT, refused_start

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def authority():
    import trustme

    return trustme.CA()


@pytest.fixture(scope="module")
def cert_files(authority, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    issued = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(cert), append=True)
    issued.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


@pytest.fixture(scope="module")
def client_context(authority):
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def tls_server(bolt, cert_files):
    cert, key = cert_files
    with bolt("--ssl-certfile", cert, "--ssl-keyfile", key) as server:
        yield server


def test_banner_and_url_say_https(tls_server):
    assert tls_server.url.startswith("https://")
    assert f"serving https://127.0.0.1:{tls_server.port}/" in tls_server.log


def test_http2_is_negotiated_and_handlers_see_https(tls_server, client_context):
    with httpx.Client(base_url=tls_server.url, verify=client_context, http2=True) as client:
        api = client.get("/api/whoami")
        assert api.http_version == "HTTP/2"
        assert api.json() == {"client": "127.0.0.1", "scheme": "https"}
        # Django: is_secure() and absolute URIs; HTTP/2 has no Host header (the host
        # comes in :authority) and ALLOWED_HOSTS still sees it.
        page = client.get("/django/whoami/")
        assert page.http_version == "HTTP/2"
        assert page.json() == {
            "remote_addr": "127.0.0.1",
            "secure": True,
            "uri": f"https://127.0.0.1:{tls_server.port}/django/whoami/",
        }
        created = client.post("/api/items", json={"name": "pen", "price": 1.5})
        assert created.status_code == 200
        assert created.json() == {"name": "pen", "price": 1.5, "tags": []}
        # Many requests multiplexed on the one connection.
        answers = [client.get(f"/api/items/{n}") for n in range(20)]
        assert [a.json()["item_id"] for a in answers] == list(range(20))


def test_http11_clients_are_served_too(tls_server, client_context):
    with httpx.Client(base_url=tls_server.url, verify=client_context, http2=False) as client:
        api = client.get("/api/whoami")
        assert api.http_version == "HTTP/1.1"
        assert api.json()["scheme"] == "https"


def test_websockets_over_tls(tls_server, client_context):
    url = f"wss://127.0.0.1:{tls_server.port}/api/ws/echo"
    with connect(url, ssl=client_context, open_timeout=10) as ws:
        ws.send("over tls")
        assert ws.recv(timeout=10) == "Echo: over tls"


def test_the_certificate_is_checked(tls_server):
    # A client that does not trust the issuing authority refuses the server.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{tls_server.url}/api/whoami")


def test_bad_certificate_files_are_one_line_errors(cert_files, tmp_path):
    cert, key = cert_files
    missing = refused_start("--ssl-certfile", str(tmp_path / "none.pem"), "--ssl-keyfile", key)
    assert "cannot read the certificate file" in missing.stderr
    assert str(tmp_path / "none.pem") in missing.stderr
    swapped = refused_start("--ssl-certfile", key, "--ssl-keyfile", cert)
    assert "no PEM certificate" in swapped.stderr, swapped.stderr
    half = refused_start("--ssl-certfile", cert)
    assert "TLS needs both --ssl-certfile and --ssl-keyfile" in half.stderr


def test_hsts_on_api_answers_and_django_pages_alike(bolt, cert_files, client_context, tmp_path):
    """Over runbolt's own TLS a request is secure for Django and for API answers the same
    way: both carry Strict-Transport-Security, and a proxy header saying http (when
    SECURE_PROXY_SSL_HEADER names one) takes it away from both."""
    (tmp_path / "hsts_settings.py").write_text(
        "from testproject.settings import *\n"
        "SECURE_HSTS_SECONDS = 3600\n"
        "SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')\n"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "hsts_settings",
        "PYTHONPATH": f"{tmp_path}:{ROOT / 'testproject'}",
    }
    cert, key = cert_files
    with (
        bolt("--ssl-certfile", cert, "--ssl-keyfile", key, env=env) as server,
        httpx.Client(base_url=server.url, verify=client_context) as client,
    ):
        for path in ("/api/whoami", "/django/whoami/"):
            assert client.get(path).headers["strict-transport-security"] == "max-age=3600", path
            said_http = client.get(path, headers={"X-Forwarded-Proto": "http"})
            assert "strict-transport-security" not in said_http.headers, path


def test_a_key_of_another_certificate_and_tls_on_a_unix_socket_are_refused(
    authority, cert_files, tmp_path
):
    cert, _ = cert_files
    other = authority.issue_cert("127.0.0.1")
    other_key = tmp_path / "other-key.pem"
    other.private_key_pem.write_to_path(str(other_key))
    mismatched = refused_start("--ssl-certfile", cert, "--ssl-keyfile", str(other_key))
    assert "do not make a TLS identity" in mismatched.stderr, mismatched.stderr
    on_uds = refused_start(
        "--ssl-certfile", cert, "--ssl-keyfile", cert_files[1], "--uds", str(tmp_path / "s.sock")
    )
    assert "TLS is served on TCP sockets only" in on_uds.stderr, on_uds.stderr


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_both_served(tls_server, authority, version):
    context = ssl.create_default_context()
    authority.configure_trust(context)
    context.minimum_version = context.maximum_version = version
    with httpx.Client(base_url=tls_server.url, verify=context) as client:
        answer = client.get("/api/whoami")
        assert answer.json()["scheme"] == "https"
        stream = answer.extensions["network_stream"]
        assert (
            stream.get_extra_info("ssl_object").version()
            == {
                ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                ssl.TLSVersion.TLSv1_3: "TLSv1.3",
            }[version]
        )
