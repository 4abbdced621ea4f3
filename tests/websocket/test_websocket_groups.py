"""WebSocket groups, origin checks, connection limits and shutdown through a real
runbolt; groups across processes and instances on Redis."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import MANAGE_PY, requires, requires_module

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("REDIS_URL")
needs_redis = requires("Redis (REDIS_URL)", REDIS_URL)


@pytest.fixture(scope="module")
def server(e2e_db):
    from django_bolt.testing import run_bolt

    with run_bolt(manage_py=str(MANAGE_PY), env={"BOLT_SQLITE_PATH": str(e2e_db)}) as proc:
        yield proc


def open_ws(url, **kwargs):
    """An open connection (``connect()`` used outside a ``with`` block)."""
    return connect(url, **kwargs).__enter__()


def join(server, room, name="anon", **kwargs):
    ws = open_ws(f"ws://127.0.0.1:{server.port}/api/ws/chat/{room}?name={name}", **kwargs)
    ready = json.loads(ws.recv(timeout=5))
    assert ready["event"] == "ready"
    ws.pid = ready["pid"]
    ws.member = name
    return ws


def recv_json(ws, timeout=5):
    return json.loads(ws.recv(timeout=timeout))


def next_is(ws, expected):
    """Absence shown without a clock: ``expected`` was sent after the message that must
    not arrive, along a path that would have carried both in order, so if it is what
    comes next, the other never came."""
    assert recv_json(ws) == expected
    return True


def test_a_room_reaches_its_members_only(server):
    room = uuid.uuid4().hex[:8]
    with join(server, room, "ada") as a, join(server, room, "bob") as b:
        with join(server, room + "-other", "eve") as c:
            a.send("hello")
            for ws in (a, b):
                assert recv_json(ws) == {"name": "ada", "text": "hello", "pid": a.pid}
            # Sent after "hello" reached the room: had c been in it, "hello" came first.
            r = httpx.post(
                f"http://127.0.0.1:{server.port}/api/ws/announce/{room}-other",
                params={"text": "barrier"},
            )
            assert r.json() == {"sent": True}
            assert next_is(c, {"announcement": "barrier"})
            # Every member sees the same order, and each sender's messages in order.
            for i in range(20):
                (a, b)[i % 2].send(str(i))
            seen = [[recv_json(ws) for _ in range(20)] for ws in (a, b)]
            assert seen[0] == seen[1]
            for name, first in (("ada", 0), ("bob", 1)):
                mine = [int(m["text"]) for m in seen[0] if m["name"] == name]
                assert mine == list(range(first, 20, 2))


def test_group_discard_and_closed_members(server):
    room = uuid.uuid4().hex[:8]
    with join(server, room, "ada") as a, join(server, room, "bob") as b:
        b.send("/leave")
        assert recv_json(b) == {"event": "left"}
        a.send("still here?")
        assert recv_json(a)["text"] == "still here?"
        b.send("/leave")  # answered directly, after anything the room sent b
        assert next_is(b, {"event": "left"})
        with join(server, room, "cy") as c:
            pass  # closed: the group forgets it
        a.send("after")
        assert recv_json(a)["text"] == "after"
        assert c.close_code == 1000


def test_http_handlers_send_to_a_group(server):
    room = uuid.uuid4().hex[:8]
    base = f"http://127.0.0.1:{server.port}/api/ws"
    with join(server, room) as a:
        r = httpx.post(f"{base}/announce/{room}", params={"text": "from async"})
        assert r.json() == {"sent": True}
        assert recv_json(a) == {"announcement": "from async"}
        r = httpx.post(f"{base}/announce-sync/{room}", params={"text": "from sync"})
        assert r.json() == {"sent": True}
        assert recv_json(a) == {"announcement": "from sync", "from": "sync"}


def test_origin_allow_list_at_the_handshake(server):
    room = uuid.uuid4().hex[:8]
    with join(server, room, origin="https://chat.example.com") as ws:
        ws.send("ok")
        assert recv_json(ws)["text"] == "ok"
    with join(server, room):  # no Origin: not a browser
        pass
    for origin in ("https://evil.test", "https://chat.example.com.evil.test", "null"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{server.port}/api/ws/chat/{room}", origin=origin)
        assert refused.value.response.status_code == 403
        assert origin in refused.value.response.body.decode()


def test_a_member_that_stops_reading_is_closed_with_1008(server):
    # The group floods the connection as soon as it joins: the close may come before
    # the client has read "ready" (a loaded machine reads late), or after.
    with pytest.raises(ConnectionClosed) as closed:
        with connect(f"ws://127.0.0.1:{server.port}/api/ws/slow-reader") as ws:
            assert ws.recv(timeout=5) == "ready"
            time.sleep(4)  # never read while the group floods the connection
            while True:
                ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_per_process_connection_limit(bolt):
    with bolt(env={"BOLT_WS_MAX_CONNECTIONS": "2"}) as srv:
        url = f"ws://127.0.0.1:{srv.port}/api/ws/echo"
        with connect(url) as one, connect(url):
            with pytest.raises(InvalidStatus) as refused:
                connect(url)
            assert refused.value.response.status_code == 503
            assert refused.value.response.headers["retry-after"] == "5"
            one.close()
            deadline = time.monotonic() + 5
            while True:  # the slot comes back once the connection has ended
                try:
                    with connect(url) as again:
                        again.send("x")
                        assert again.recv(timeout=5) == "Echo: x"
                    break
                except InvalidStatus:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)


def test_shutdown_closes_connections_with_1001(bolt):
    with bolt() as srv:
        ws = open_ws(f"ws://127.0.0.1:{srv.port}/api/ws/echo")
        ws.send("x")
        assert ws.recv(timeout=5) == "Echo: x"
        started = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1001
        assert srv.proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5  # not held until the shutdown timeout


@pytest.mark.parametrize(("processes", "code"), [("1", 1012), ("2", 1001)])
def test_sighup_closes_connections_with_the_documented_code(bolt, processes, code):
    """A single process restarting in place says 1012 (service restart); under the
    supervisor the old workers drain as on SIGTERM and say 1001 (going away)."""
    with bolt("--processes", processes) as srv:
        ws = open_ws(f"ws://127.0.0.1:{srv.port}/api/ws/echo")
        ws.send("x")
        assert ws.recv(timeout=5) == "Echo: x"
        srv.proc.send_signal(signal.SIGHUP)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd.code == code
        # And the site is served again afterwards.
        deadline = time.monotonic() + 30
        while True:
            try:
                with connect(f"ws://127.0.0.1:{srv.port}/api/ws/echo") as again:
                    again.send("y")
                    assert again.recv(timeout=5) == "Echo: y"
                break
            except (InvalidStatus, OSError):
                assert time.monotonic() < deadline
                time.sleep(0.1)


def test_dev_reload_closes_connections_with_1012(bolt, tmp_path):
    # A copy of the project: the reloader is made to see a change without touching the
    # repository's files.
    project = tmp_path / "project"
    shutil.copytree(
        MANAGE_PY.parent,
        project,
        ignore=shutil.ignore_patterns("db.sqlite3", "__pycache__", "media"),
    )
    watched = project / "testproject" / "api.py"
    with bolt(
        "--dev",
        manage_py=str(project / "manage.py"),
        cwd=str(project),
        env={"PYTHONPATH": str(MANAGE_PY.parent.parent)},
    ) as srv:
        ws = open_ws(f"ws://127.0.0.1:{srv.port}/api/ws/echo")
        ws.send("x")
        assert ws.recv(timeout=5) == "Echo: x"
        # Touch the module until the reloader (which polls modification times) notices.
        deadline = time.monotonic() + 30
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                now = time.time()
                os.utime(watched, (now, now))
                try:
                    ws.recv(timeout=1)
                except TimeoutError:
                    continue
        assert closed.value.rcvd.code == 1012


# -- Redis: every process and machine -------------------------------------------------------


@pytest.fixture
def redis_env():
    prefix = f"bolt-test-{uuid.uuid4().hex[:8]}:"
    return {"BOLT_REDIS_URL": REDIS_URL, "BOLT_REDIS_PREFIX": prefix}


def members_on_both_workers(server, room, tries=40):
    """Connects until the members sit on two different worker processes."""
    members = []
    for _ in range(tries):
        members.append(join(server, room, f"m{len(members)}"))
        if len({m.pid for m in members}) == 2:
            return members
    pytest.fail("SO_REUSEPORT never picked the second worker")


@needs_redis
def test_group_spans_the_processes_of_one_runbolt(bolt, redis_env):
    room = uuid.uuid4().hex[:8]
    with bolt("--processes", "2", env=redis_env) as srv:
        members = members_on_both_workers(srv, room)
        try:
            sender = members[-1]
            sender.send("across processes")
            for ws in members:
                got = recv_json(ws)
                assert got == {"name": sender.member, "text": "across processes", "pid": sender.pid}
            r = httpx.post(f"http://127.0.0.1:{srv.port}/api/ws/announce/{room}?text=hi")
            assert r.status_code == 200
            for ws in members:
                assert recv_json(ws) == {"announcement": "hi"}
        finally:
            for ws in members:
                ws.close()


@needs_redis
def test_group_spans_two_runbolt_instances_and_a_management_command(bolt, e2e_db, redis_env):
    room = uuid.uuid4().hex[:8]
    with bolt(env=redis_env) as one, bolt(env=redis_env) as two:
        with join(one, room, "ada") as a, join(two, room, "bob") as b:
            a.send("hi bob")
            for ws in (a, b):
                assert recv_json(ws) == {"name": "ada", "text": "hi bob", "pid": a.pid}
            b.send("hi ada")
            for ws in (a, b):
                assert recv_json(ws) == {"name": "bob", "text": "hi ada", "pid": b.pid}
            assert a.pid != b.pid
            env = {**os.environ, **redis_env, "BOLT_SQLITE_PATH": str(e2e_db)}
            done = subprocess.run(
                [sys.executable, str(MANAGE_PY), "announce", room, "maintenance at noon"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            expected = {"announcement": "maintenance at noon", "from": "command"}
            assert recv_json(a) == expected
            assert recv_json(b) == expected


# -- the project's own ASGI application (Django Channels) ----------------------------------


@requires_module("channels")
def test_channels_consumer_on_a_path_no_route_owns(server, e2e_db):
    import http.cookies

    base = f"ws://127.0.0.1:{server.port}/channels/notes"
    with connect(f"{base}/kitchen/?x=1") as ws:
        assert json.loads(ws.recv(timeout=5)) == {"board": "kitchen", "user": None, "query": "x=1"}
        ws.send(json.dumps({"n": 1}))
        assert json.loads(ws.recv(timeout=5)) == {"echo": {"n": 1}}
        ws.send(json.dumps({"bye": True}))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4002
    # A consumer that closes before accepting refuses the handshake with 403.
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{base}/private/")
    assert refused.value.response.status_code == 403
    # Channels' AuthMiddlewareStack sees the Django session of the admin login.
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as client:
        login = client.get("/admin/login/")
        token = login.cookies["csrftoken"]
        client.post(
            "/admin/login/",
            data={"username": "admin", "password": "pw-admin-123", "csrfmiddlewaretoken": token},
            headers={"Referer": f"http://127.0.0.1:{server.port}/admin/login/"},
        )
        cookie = http.cookies.SimpleCookie()
        cookie["sessionid"] = client.cookies["sessionid"]
    with connect(
        f"{base}/kitchen/", additional_headers={"Cookie": cookie.output(header="", sep=";").strip()}
    ) as ws:
        assert json.loads(ws.recv(timeout=5))["user"] == "admin"
    # API routes keep their own WebSocket handlers; unknown paths without a consumer fail
    # the handshake instead of hanging.
    with pytest.raises(InvalidStatus):
        connect(f"ws://127.0.0.1:{server.port}/channels/nowhere/")


# -- authentication at the handshake: Django sessions and guards decided in Python ----------


def session_cookie(e2e_db, username, *, staff):
    """Creates ``username`` and a logged-in Django session for it; returns the cookie."""
    script = f"""
from django.contrib.auth import get_user_model, HASH_SESSION_KEY, SESSION_KEY, BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
user, _ = get_user_model().objects.get_or_create(username={username!r}, defaults={{"is_staff": {staff!r}}})
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""
    env = {**os.environ, "BOLT_SQLITE_PATH": str(e2e_db)}
    out = subprocess.run(
        [sys.executable, str(MANAGE_PY), "shell", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return {"Cookie": f"sessionid={out.stdout.strip().splitlines()[-1]}"}


def test_session_authentication_and_python_guards_at_the_handshake(server, e2e_db):
    base = f"ws://127.0.0.1:{server.port}/api/ws/staff"
    with pytest.raises(InvalidStatus) as refused:
        connect(base)
    assert refused.value.response.status_code == 401

    carol = session_cookie(e2e_db, "carol", staff=True)
    with connect(f"{base}?board=open", additional_headers=carol) as ws:
        assert recv_json(ws)["user"] == "carol"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{base}?board=closed", additional_headers=carol)
    assert refused.value.response.status_code == 403
    assert b"This board is closed" in refused.value.response.body

    dave = session_cookie(e2e_db, "dave", staff=False)
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{base}?board=open", additional_headers=dave)
    assert refused.value.response.status_code == 403

    admin = session_cookie(e2e_db, "admin", staff=True)
    with connect(f"{base}?board=closed", additional_headers=admin) as ws:
        assert recv_json(ws)["user"] == "admin"
