"""The demo project's API: the examples of the documentation, runnable."""

import asyncio
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Annotated

import msgspec
from django.contrib.auth import get_user_model

from django_bolt import BoltAPI, File, FileSize, Form, Query, Request, UploadFile
from django_bolt.auth import BaseGuard, IsAuthenticated, IsStaff, SessionAuthentication
from django_bolt.cache import cache_page
from django_bolt.exceptions import HTTPException
from django_bolt.middleware import cors, rate_limit
from django_bolt.params import Path as UrlPath
from django_bolt.responses import FileResponse, StreamingResponse
from django_bolt.websocket import WebSocket, WebSocketDisconnect

User = get_user_model()

api = BoltAPI()


class UserSchema(msgspec.Struct):
    id: int
    username: str


class CreateUserRequest(msgspec.Struct):
    username: str
    email: str
    age: int


class NoteIn(msgspec.Struct):
    title: str
    body: str = ""


class Item(msgspec.Struct):
    name: str
    price: float
    tags: list[str] = []


@api.get("/hello")
async def hello():
    return {"message": "Hello, World!"}


@api.get("/items/{item_id}")
async def get_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@api.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price": item.price, "tags": item.tags}


@api.get("/search")
async def search(query: str = Query(...), limit: int = Query(10), offset: int = Query(0)):
    return {"query": query, "limit": limit, "offset": offset}


@api.get("/sync/{n}")
def sync_handler(n: int):
    return {"n": n, "sync": True}


@api.get("/report")
@cache_page(60)
async def report(region: str = "all"):
    """An answer worth keeping: computed once per region a minute, for every process."""
    log = os.environ.get("BOLT_REPORT_LOG")
    if log:
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {region}\n")
    return {"region": region, "computed_by": os.getpid(), "at": time.time()}


@api.get("/sleep")
async def sleepy(ms: Annotated[int, Query(ge=0, le=2_000)] = 10):
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


@api.get("/users/{user_id}")
async def get_user(user_id: int) -> UserSchema:
    user = await User.objects.aget(id=user_id)
    return {"id": user.id, "username": user.username}


@api.post("/users")
async def create_user(request, body: CreateUserRequest):
    return {"username": body.username}


class NewUser(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=150)]
    email: str


@api.post("/accounts", status_code=201, responses={409: "The username is taken"})
async def create_account(body: NewUser):
    from django.db import IntegrityError

    try:
        user = await User.objects.acreate(username=body.username, email=body.email)
    except IntegrityError:
        raise HTTPException(409, "The username is taken") from None
    return {"id": user.id, "username": user.username}


@api.get("/accounts/{user_id}")
async def get_account(user_id: int):
    user = await User.objects.aget(id=user_id)
    return {"id": user.id, "username": user.username}


@api.post("/notes", status_code=201)
def create_note(body: NoteIn):
    from users.models import Note

    note = Note.objects.create(title=body.title, body=body.body)
    return {"id": note.id, "title": note.title}, 201


@api.get("/notes/{note_id}")
async def get_note(note_id: int):
    from users.models import Note

    note = await Note.objects.aget(id=note_id)
    return {"id": note.id, "title": note.title, "body": note.body}


@api.get("/notes")
async def list_notes(limit: Annotated[int, Query(ge=0, le=100)] = 10):
    from users.models import Note

    return [{"id": n.id, "title": n.title} async for n in Note.objects.order_by("id")[:limit]]


@api.get("/uuid/{value}")
async def echo_uuid(value: uuid.UUID):
    return {"value": str(value)}


@api.get("/files/{rest:path}")
async def file_path(rest: str):
    return {"rest": rest}


PUBLIC_DIR = Path(__file__).resolve().parent / "public"


@api.get(
    "/public/{name:path}",
    responses={200: {"description": "The file", "content": {"*/*": {}}}},
)
async def public_file(name: str):
    return FileResponse(name, root=PUBLIC_DIR)


# Streams that record when their generator is closed, for the disconnect tests. Only
# mounted when BOLT_TEST_MARKER_DIR names a directory to write the records into.
MARKER_DIR = os.environ.get("BOLT_TEST_MARKER_DIR")
if MARKER_DIR:

    def _mark(name: str) -> None:
        if name.isalnum():
            (Path(MARKER_DIR) / name).write_text("closed")

    @api.get("/stream/forever")
    async def stream_forever(marker: str):
        async def ticks():
            try:
                i = 0
                while True:
                    yield f"data: {i}\n\n"
                    i += 1
                    await asyncio.sleep(0.01)
            finally:
                _mark(marker)

        return StreamingResponse(ticks(), media_type="text/event-stream")

    @api.get("/stream/forever-sync")
    def stream_forever_sync(marker: str):
        def ticks():
            try:
                i = 0
                while True:
                    yield f"tick {i}\n" * 100
                    i += 1
                    time.sleep(0.01)
            finally:
                _mark(marker)

        return StreamingResponse(ticks())


@api.post("/upload")
async def upload(
    title: Annotated[str, Form()], file: Annotated[UploadFile, File(max_size=FileSize.MB_10)]
):
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    return {
        "title": title,
        "filename": file.filename,
        "size": file.size,
        "sha256": digest.hexdigest(),
        "spooled": not file.in_memory,
    }


@api.post("/documents", status_code=201)
async def create_document(
    title: Annotated[str, Form()], upload: Annotated[UploadFile, File(max_size=FileSize.MB_10)]
):
    from users.models import Document

    doc = Document(title=title)
    doc.file = upload.file
    await doc.asave()
    return {"id": doc.id, "url": doc.file.url, "name": doc.file.name}


@api.get(
    "/events",
    responses={200: {"description": "Server-sent events", "content": {"text/event-stream": {}}}},
)
async def events(count: Annotated[int, Query(ge=0, le=1000)] = 3):
    async def produce():
        for i in range(count):
            yield {"event": "tick", "id": i, "data": {"n": i}}
            await asyncio.sleep(0.01)

    return StreamingResponse(produce(), media_type="text/event-stream")


@api.get(
    "/stream/big",
    responses={200: {"description": "Bytes", "content": {"application/octet-stream": {}}}},
)
async def stream_big(
    chunks: Annotated[int, Query(ge=0, le=4096)] = 100,
    size: Annotated[int, Query(ge=1, le=65536)] = 65536,
):
    async def produce():
        block = b"x" * size
        for _ in range(chunks):
            yield block

    return StreamingResponse(produce(), media_type="application/octet-stream")


# The code version a reload test rewrites: read when this module is imported, as any
# module-level code is, so only a fresh interpreter sees a new one.
_VERSION_FILE = os.environ.get("BOLT_CODE_VERSION_FILE")
CODE_VERSION = int(Path(_VERSION_FILE).read_text()) if _VERSION_FILE else None


@api.get("/code-version", include_in_schema=False)
async def code_version():
    return {"version": CODE_VERSION, "pid": os.getpid()}


@api.get("/whoami", include_in_schema=False)
async def whoami(request: Request):
    return {"client": request.client[0] if request.client else None, "scheme": request.scheme}


@api.get("/hang", include_in_schema=False)  # slower than a timeout, for the limit tests
async def hang(seconds: float = 5.0):
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        marker_dir = os.environ.get("BOLT_TEST_MARKER_DIR")
        if marker_dir:
            (Path(marker_dir) / "hang-cancelled").write_text("cancelled")
        raise
    return {"slept": seconds}


@api.get("/hang-sync", include_in_schema=False)
def hang_sync(seconds: float = 5.0):
    time.sleep(seconds)
    return {"slept": seconds}


@api.get("/boom", include_in_schema=False)  # a deliberate failure, for the error tests
async def boom():
    raise RuntimeError("handler failure")


@api.get("/missing", responses={404: "No such user"})
async def missing():
    raise HTTPException(status_code=404, detail="User not found")


@api.get("/cors-demo")
@cors(origins=["https://demo.example"], methods=["GET"])
async def cors_demo():
    return {"ok": True}


@api.get("/limited")
@rate_limit(rps=0.01, burst=4)  # four, then one per 100 s
async def limited():
    return {"ok": True}


# -- WebSockets ---------------------------------------------------------------------------


@api.websocket("/ws/echo")
async def ws_echo(websocket: WebSocket):
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"Echo: {message}")


@api.websocket("/ws/json")
async def ws_json(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_json():
        await websocket.send_json({"got": data})


@api.websocket("/ws/bytes")
async def ws_bytes(websocket: WebSocket):
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data[::-1])


@api.websocket("/ws/rooms/{room}")
async def ws_room(websocket: WebSocket, room: str, name: str = "anon"):
    offered = websocket.headers.get("sec-websocket-protocol", "")
    chosen = "chat.v1" if "chat.v1" in [p.strip() for p in offered.split(",")] else None
    await websocket.accept(subprotocol=chosen, headers=[("x-room", room)])
    await websocket.send_json({"room": room, "name": name, "cookie": websocket.cookies.get("c")})
    await websocket.close(4000, "done")


@api.websocket("/ws/guarded")
async def ws_guarded(websocket: WebSocket, token: str | None = None):
    if token != "let-me-in":
        await websocket.close(code=4001, reason="unauthorised")
        return
    await websocket.accept()
    await websocket.send_text("welcome")
    await websocket.close()


@api.websocket("/ws/record-close")
async def ws_record_close(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect as exc:
        marker_dir = os.environ.get("BOLT_TEST_MARKER_DIR")
        if marker_dir:
            Path(marker_dir, "ws-close").write_text(str(exc.code))


@api.websocket("/ws/fail")
async def ws_fail(websocket: WebSocket, when: str = "before"):
    if when == "before":
        raise HTTPException(status_code=403, detail="not for you")
    await websocket.accept()
    raise RuntimeError("handler failure after accept")


@api.websocket("/ws/typed/{n}")
async def ws_typed(websocket: WebSocket, n: int):
    await websocket.accept()
    await websocket.send_json({"n": n * 2})
    await websocket.close()


# Chat rooms with groups: every member of a room gets every message, whichever process
# (or machine, with BOLT_REDIS_URL) its connection landed on.
@api.websocket("/ws/chat/{room}", allowed_origins=["https://chat.example.com"])
async def ws_chat(websocket: WebSocket, room: str, name: str = "anon"):
    await websocket.accept()
    group = f"chat.{room}"
    await websocket.group_add(group)
    await websocket.send_json({"event": "ready", "pid": os.getpid()})
    async for text in websocket.iter_text():
        if text == "/leave":
            await websocket.group_discard(group)
            await websocket.send_json({"event": "left"})
            continue
        await api.group_send(group, {"name": name, "text": text, "pid": os.getpid()})


Room = Annotated[str, UrlPath(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]


@api.post("/ws/announce/{room}")
async def ws_announce(room: Room, text: str):
    await api.group_send(f"chat.{room}", {"announcement": text})
    return {"sent": True}


@api.post("/ws/announce-sync/{room}")
def ws_announce_sync(room: Room, text: str):
    api.group_send_sync(f"chat.{room}", {"announcement": text, "from": "sync"})
    return {"sent": True}


@api.websocket("/ws/slow-reader")
async def ws_slow_reader(websocket: WebSocket):
    """Joins a group and floods it: a client that never reads is closed with 1008."""
    await websocket.accept()
    await websocket.group_add("flood")
    await websocket.send_text("ready")
    payload = "x" * 1024
    try:
        for _ in range(100_000):
            await api.group_send("flood", payload)
            await asyncio.sleep(0)
    except WebSocketDisconnect:
        pass
    async for _ in websocket.iter_text():
        pass


class BoardIsOpen(BaseGuard):
    """A guard only Python can decide: it looks at the query and the Django user."""

    message = "This board is closed"

    async def check(self, request):
        user = await request.auser()
        return request.query.get("board") != "closed" or user.is_superuser


# Same-site pages open this with the Django session cookie of their logged-in user.
@api.websocket(
    "/ws/staff", auth=[SessionAuthentication()], guards=[IsAuthenticated, IsStaff, BoardIsOpen]
)
async def ws_staff(websocket: WebSocket):
    await websocket.accept()
    user = await websocket.auser()
    await websocket.send_json({"user": user.username, "via": websocket.context.get("auth_backend")})
    await websocket.close()
