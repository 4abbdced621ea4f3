"""The request object handlers receive."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import msgspec
from django.utils.functional import SimpleLazyObject, empty

from ..contrib.sessions.middleware import load_session
from .environ import wsgi_environ
from .errors import BadRequest, RequestValidationError
from .uploads import UploadFile
from .user import TokenUser, load_user


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header mapping; repeated headers join with ", "."""

    __slots__ = ("_pairs", "_map")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        merged: dict[str, str] = {}
        for name, value in pairs:
            name = name.lower()
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        self._map = merged

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._map.get(key.lower(), default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def getlist(self, key: str) -> list[str]:
        key = key.lower()
        return [v for k, v in self._pairs if k.lower() == key]

    def __repr__(self) -> str:
        return f"Headers({self._map!r})"


def _parse_cookies(header: str | None) -> dict[str, str]:
    if not header:
        return {}
    from django.http.cookie import parse_cookie

    return parse_cookie(header)


class State(dict):
    """Per-request scratch space, readable as attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class Request:
    """One HTTP request: attribute access (``request.method``) and the dict style of the
    documentation (``request.get("method")``, ``request["headers"]``) both work."""

    __slots__ = (
        "_job",
        "_query",
        "_query_lists",
        "_headers",
        "_body",
        "_params",
        "_cookies",
        "_path",
        "_json",
        "_context",
        "auth_pending",
        "_state",
        "_django_request",
        "_user",
        "_dependency_cache",
        "_form",
        "_uploads",
        "_session",
        "_meta",
        # Django helpers (alogin / alogout) and user code set their own attributes.
        "__dict__",
    )

    def __init__(self, job: Any) -> None:
        self._job = job
        self._query = None
        self._query_lists = None
        self._headers = None
        self._body = None
        self._params = None
        self._cookies = None
        self._path = None
        self._json = _NOT_READ
        self._context: dict[str, Any] | None = None
        self.auth_pending: bool = job.auth_pending
        self._state = None
        self._django_request = None
        self._user = None
        self._dependency_cache = None
        self._form = None
        self._uploads = None
        self._session = None
        self._meta = None

    @property
    def method(self) -> str:
        return self._job.method

    @property
    def path(self) -> str:
        path = self._path
        if path is None:
            raw = self._job.path
            path = self._path = unquote(raw) if "%" in raw else raw
        return path

    @property
    def query_string(self) -> str:
        return self._job.query_string

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; for a repeated name the last value wins (see ``query_lists``)."""
        query = self._query
        if query is None:
            query = self._query = self._job.query()
        return query

    @property
    def query_lists(self) -> dict[str, list[str]]:
        lists = self._query_lists
        if lists is None:
            lists = {}
            for k, v in self._job.query_pairs():
                lists.setdefault(k, []).append(v)
            self._query_lists = lists
        return lists

    @property
    def params(self) -> dict[str, str]:
        params = self._params
        if params is None:
            params = self._params = self._job.params()
        return params

    @property
    def headers(self) -> Headers:
        headers = self._headers
        if headers is None:
            headers = self._headers = Headers(self._job.headers())
        return headers

    @property
    def cookies(self) -> dict[str, str]:
        cookies = self._cookies
        if cookies is None:
            cookies = self._cookies = _parse_cookies(self.headers.get("cookie"))
        return cookies

    @property
    def body(self) -> bytes:
        body = self._body
        if body is None:
            body = self._body = self._job.body
        return body

    @property
    def client(self) -> tuple[str, int] | None:
        """(address, port) of the client: the peer, or the address a trusted proxy
        forwards (port 0 then)."""
        return self._job.client

    @property
    def scheme(self) -> str:
        """ "https" when a trusted proxy says the client used it, else "http"."""
        return self._job.scheme

    @property
    def state(self) -> State:
        state = self._state
        if state is None:
            state = self._state = State()
        return state

    @property
    def form_lists(self) -> dict[str, list[str]]:
        """Form fields (urlencoded or multipart text parts), every value per name."""
        form = self._form
        if form is None:
            form = {}
            try:
                fields = self._job.form_fields()
            except ValueError as exc:  # more fields than a form may have
                raise BadRequest(detail=str(exc)) from None
            for k, v in fields:
                form.setdefault(k, []).append(v)
            self._form = form
        return form

    @property
    def uploads(self) -> dict[str, list[Any]]:
        """Uploaded files per field name."""
        uploads = self._uploads
        if uploads is None:
            uploads = {}
            for part in self._job.form_files():
                uploads.setdefault(part[0], []).append(UploadFile(*part))
            self._uploads = uploads
        return uploads

    async def form(self) -> Any:
        """The whole form as a Django ``MultiValueDict``: ``form["name"]`` is the last
        value, ``form.getlist("name")`` all of them; file fields hold ``UploadFile``s."""
        from django.utils.datastructures import MultiValueDict

        data: MultiValueDict = MultiValueDict()
        for k, values in self.form_lists.items():
            data.setlist(k, list(values))
        for k, files in self.uploads.items():
            data.setlist(k, data.getlist(k) + list(files))
        return data

    async def file(self, name: str) -> Any:
        """The first file uploaded under ``name``, or None."""
        files = self.uploads.get(name)
        return files[0] if files else None

    async def files(self, name: str) -> list[Any]:
        """Every file uploaded under ``name``."""
        return list(self.uploads.get(name, ()))

    # -- Django sessions and users ----------------------------------------------------
    @property
    def session(self) -> Any:
        """The Django session named by the session cookie (loaded on first use, saved
        after the handler, with the cookie set as SessionMiddleware would). Async code
        uses its async methods: ``await request.session.aget(key)``, ``aset``, ``apop``,
        ``akeys``, ``aitems``, ``aflush``..."""
        dj = self._django_request
        if dj is not None and hasattr(dj, "session"):
            return dj.session  # Django's SessionMiddleware owns it
        session = self._session
        if session is None:
            session = self._session = load_session(self.cookies)
        return session

    @property
    def django_request(self) -> Any:
        """This request as a Django ``HttpRequest`` (built on first use; under Django
        middleware, the one the middleware saw)."""
        dj = self._django_request
        if dj is None:
            from django.core.handlers.wsgi import WSGIRequest

            dj = self._django_request = WSGIRequest(wsgi_environ(self._job))
        return dj

    @property
    def loaded_session(self) -> Any:
        return self._session

    @property
    def context(self) -> dict[str, Any]:
        """What authentication established: for a JWT its claims (custom ones included)
        plus ``user_id``, ``auth_backend``, ``is_staff``, ``is_superuser``,
        ``permissions`` and ``roles``; empty when the request is anonymous."""
        context = self._context
        if context is None:
            context = self._context = self._job.context() or {}
        return context

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._context = value

    @property
    def user(self) -> Any:
        """The authenticated user. For a token, a ``TokenUser`` (``id`` / ``pk`` without a
        query); otherwise the user of the session, lazily, like Django's
        ``request.user``. In async code call ``await request.auser()`` first."""
        user = self._user
        if user is None:
            context = self.context
            if context.get("auth_backend") == "jwt" and context.get("user_id") is not None:
                user = self._user = TokenUser(context)
                return user
            dj = self._django_request
            if dj is not None and hasattr(dj, "user"):
                return dj.user  # Django's AuthenticationMiddleware set it
            from django.contrib.auth import get_user

            user = self._user = SimpleLazyObject(lambda: get_user(self))
        return user

    @user.setter
    def user(self, value: Any) -> None:
        self._user = value
        dj = self._django_request
        if dj is not None:
            dj.user = value  # alogin / alogout through the middleware's request

    async def auser(self) -> Any:
        """The authenticated user, loaded with the async ORM (AnonymousUser if none)."""
        user = self._user
        context = self.context
        if (user is None or type(user) is TokenUser) and context.get("auth_backend") == "jwt":
            from django.contrib.auth.models import AnonymousUser

            user_id = context.get("user_id")
            loaded = await load_user(user_id) if user_id is not None else None
            user = self._user = loaded if loaded is not None else AnonymousUser()
            return user
        dj = self._django_request
        if user is None and dj is not None and hasattr(dj, "auser"):
            user = self._user = await dj.auser()
            return user
        if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
            from django.contrib.auth import aget_user

            user = self._user = await aget_user(self)
        return user

    @property
    def COOKIES(self) -> dict[str, str]:  # noqa: N802 - Django's name
        return self.cookies

    @property
    def META(self) -> dict[str, Any]:  # noqa: N802 - Django's name
        """A WSGI-style environ subset, for Django helpers that read request.META."""
        if self._django_request is not None:
            return self._django_request.META
        meta = self._meta
        if meta is None:
            client = self.client
            meta = {
                "REQUEST_METHOD": self.method,
                "PATH_INFO": self.path,
                "QUERY_STRING": self.query_string,
                "REMOTE_ADDR": client[0] if client else "",
            }
            for name, value in self.headers.items():
                key = name.upper().replace("-", "_")
                if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                    meta[key] = value
                else:
                    meta["HTTP_" + key] = value
            self._meta = meta
        return meta

    def close(self) -> None:
        """Releases what the request opened (upload file handles); the server calls it
        once the response is out."""
        uploads = self._uploads
        if uploads:
            for files in uploads.values():
                for upload in files:
                    upload.close()

    @property
    def dependency_cache(self) -> dict[Any, Any]:
        cache = self._dependency_cache
        if cache is None:
            cache = self._dependency_cache = {}
        return cache

    @property
    def auth(self) -> dict[str, Any]:
        return self.context

    def json_sync(self) -> Any:
        value = self._json
        if value is _NOT_READ:
            try:
                value = msgspec.json.decode(self.body) if self.body else None
            except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
                msg = (
                    "the body is not valid UTF-8"
                    if isinstance(exc, UnicodeDecodeError)
                    else "nested too deeply"
                    if isinstance(exc, RecursionError)
                    else str(exc)
                )
                raise RequestValidationError(
                    [{"loc": ["body"], "msg": f"Invalid JSON: {msg}", "type": "json_invalid"}]
                ) from None
            self._json = value
        return value

    async def json(self) -> Any:
        return self.json_sync()

    async def body_bytes(self) -> bytes:
        return self.body

    # The dict style of the documentation.
    def get(self, key: str, default: Any = None) -> Any:
        getter = _DICT_KEYS.get(key)
        if getter is None:
            return default
        value = getter(self)
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        getter = _DICT_KEYS.get(key)
        if getter is None:
            raise KeyError(key)
        return getter(self)

    def __contains__(self, key: object) -> bool:
        return key in _DICT_KEYS

    def keys(self) -> list[str]:
        return list(_DICT_KEYS)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


_NOT_READ: Any = object()

_DICT_KEYS = {
    "method": lambda r: r.method,
    "path": lambda r: r.path,
    "query": lambda r: r.query,
    "params": lambda r: r.params,
    "headers": lambda r: r.headers,
    "body": lambda r: r.body,
    "context": lambda r: r.context,
    "auth": lambda r: r.context,
    "cookies": lambda r: r.cookies,
    "state": lambda r: r.state,
}

__all__ = ["Request", "Headers", "State"]
