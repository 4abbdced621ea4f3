"""Per-route extraction plans, compiled once when a route is registered.

A plan knows, for each handler argument, where its value comes from and how to coerce
it, so the per-request work is a loop over prepared extractor functions.
"""

from __future__ import annotations

import enum
import functools
import inspect
import operator
import re
import types
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import msgspec
from django.http import HttpResponseBase

from . import params as markers
from ._encoding import json_encode
from .exceptions import RequestValidationError, ResponseValidationError, UnsupportedMediaType
from .pagination import Page
from .request import Request
from .responses import Response

_NONE_TYPES = (type(None),)
_PATH_PARAM = re.compile(r"{(\w+)(?::(\w+))?}")


class ParamError(Exception):
    def __init__(self, loc: list[Any], msg: str, type_: str) -> None:
        self.error = {"loc": loc, "msg": msg, "type": type_}


def path_param_names(path: str) -> list[str]:
    return [m.group(1) for m in _PATH_PARAM.finditer(path)]


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` / ``Optional[X]`` -> (X, True); anything else -> (tp, False)."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(tp) if a not in _NONE_TYPES]
        if len(args) != len(get_args(tp)):
            if len(args) == 1:
                return args[0], True
            return functools.reduce(operator.or_, args), True
    return tp, False


def _is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def _is_sequence(tp: Any) -> bool:
    return get_origin(tp) in (list, tuple, set, frozenset)


def _error_type(msg: str) -> str:
    if msg.startswith("Expected `") and any(op in msg for op in (" >= ", " <= ", " > ", " < ")):
        return "value_error"
    if "length" in msg or "match pattern" in msg:
        return "value_error"
    if msg.startswith("Object missing required field"):
        return "missing"
    if msg.startswith("Expected") or msg.startswith("Invalid"):
        return "type_error"
    return "value_error"


_AT = re.compile(r" - at `\$(.*)`$")
_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]+)\]")


def validation_error_entry(exc: msgspec.ValidationError, base: list[Any]) -> dict[str, Any]:
    """Turns msgspec's ``Expected `int`, got `str` - at `$.a[0]``` into a loc list."""
    msg = str(exc)
    loc = list(base)
    m = _AT.search(msg)
    if m:
        msg = msg[: m.start()]
        for name, index, key in _PATH_PART.findall(m.group(1)):
            if name:
                loc.append(name)
            elif index:
                loc.append(int(index))
            else:
                loc.append(key.strip("'\""))
    missing = re.match(r"Object missing required field `(.+)`", msg)
    if missing:
        loc.append(missing.group(1))
        return {"loc": loc, "msg": "Field required", "type": "missing"}
    unknown = re.match(r"Object contains unknown field `(.+)`", msg)
    if unknown:
        loc.append(unknown.group(1))
        return {"loc": loc, "msg": "Unknown field (or read-only)", "type": "extra_forbidden"}
    return {"loc": loc, "msg": msg, "type": _error_type(msg)}


def _scalar_converter(tp: Any, constraints: dict[str, Any]) -> Callable[[str], Any]:
    """Coerces one string from the URL into ``tp``; raises ValueError with a message."""
    if constraints:
        target = Annotated[tp, msgspec.Meta(**constraints)]

        def convert_constrained(raw: Any) -> Any:
            try:
                return msgspec.convert(raw, target, strict=False)
            except msgspec.ValidationError as exc:
                raise ValueError(str(exc)) from None

        return convert_constrained
    if tp is str or tp is Any or tp is inspect.Parameter.empty:
        return str
    if tp is int:

        def to_int(raw: str) -> int:
            s = raw[1:] if raw[:1] in "+-" else raw
            if not (s.isascii() and s.isdigit()):
                raise ValueError("Expected `int`")
            return int(raw)

        return to_int
    if tp is float:

        def to_float(raw: str) -> float:
            try:
                return float(raw)
            except ValueError:
                raise ValueError("Expected `float`") from None

        return to_float
    if tp is bool:
        truthy = {"true", "1", "yes", "on"}
        falsy = {"false", "0", "no", "off"}

        def to_bool(raw: str) -> bool:
            low = raw.lower()
            if low in truthy:
                return True
            if low in falsy:
                return False
            raise ValueError("Expected `bool`")

        return to_bool
    if tp is uuid.UUID:

        def to_uuid(raw: str) -> uuid.UUID:
            try:
                return uuid.UUID(raw)
            except ValueError:
                raise ValueError("Expected `uuid`") from None

        return to_uuid
    if isinstance(tp, type) and issubclass(tp, enum.Enum):

        def to_enum(raw: str) -> Any:
            try:
                return msgspec.convert(raw, tp, strict=False)
            except msgspec.ValidationError as exc:
                raise ValueError(str(exc)) from None

        return to_enum

    def to_any(raw: Any) -> Any:
        try:
            return msgspec.convert(raw, tp, strict=False)
        except msgspec.ValidationError as exc:
            raise ValueError(str(exc)) from None

    return to_any


class _Spec:
    """What the plan knows about one handler argument."""

    def __init__(self, name: str, annotation: Any, marker: markers.Param | None, default: Any):
        self.name = name
        self.annotation = annotation
        self.marker = marker
        self.default = default


def _split_annotation(annotation: Any) -> tuple[Any, markers.Param | None]:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, markers.Param):
                return base, extra.as_annotated_marker()
        return base, None
    return annotation, None


def _make_value_extractor(
    source: str,
    key: str,
    loc_name: str,
    tp: Any,
    required: bool,
    default: Any,
    constraints: dict[str, Any],
) -> Callable[[Request], Any]:
    inner, optional = _unwrap_optional(tp)
    if _is_sequence(inner) and source in ("query", "header", "form"):
        list_type = inner if not constraints else Annotated[inner, msgspec.Meta(**constraints)]

        def extract_list(request: Request) -> Any:
            if source == "query":
                values = request.query_lists.get(key)
            elif source == "form":
                values = request.form_lists.get(key)
            else:
                values = request.headers.getlist(key) or None
            if values is None:
                if required:
                    raise ParamError([source, loc_name], "Field required", "missing")
                return default() if callable(default) and default is list else default
            try:
                return msgspec.convert(values, list_type, strict=False)
            except msgspec.ValidationError as exc:
                raise ParamError(*_loc_msg(exc, [source, loc_name])) from None

        return extract_list

    convert = _scalar_converter(inner, constraints)

    def getter_for(request: Request) -> Any:
        if source == "query":
            return request.query.get(key)
        if source == "path":
            return request.params.get(key)
        if source == "header":
            return request.headers.get(key)
        if source == "cookie":
            return request.cookies.get(key)
        if source == "form":
            values = request.form_lists.get(key)
            return values[-1] if values else None
        raise AssertionError(source)

    if source == "path":

        def extract_path(request: Request) -> Any:
            raw = request.params.get(key)
            try:
                return convert(raw)
            except ValueError as exc:
                raise ParamError([source, loc_name], str(exc), _error_type(str(exc))) from None

        return extract_path

    if source == "query":

        def extract_query(request: Request) -> Any:
            raw = request.query.get(key)
            if raw is None:
                if required:
                    raise ParamError([source, loc_name], "Field required", "missing")
                return default
            if raw == "" and optional:
                return None
            try:
                return convert(raw)
            except ValueError as exc:
                raise ParamError([source, loc_name], str(exc), _error_type(str(exc))) from None

        return extract_query

    def extract(request: Request) -> Any:
        raw = getter_for(request)
        if raw is None:
            if required:
                raise ParamError([source, loc_name], "Field required", "missing")
            return default
        try:
            return convert(raw)
        except ValueError as exc:
            raise ParamError([source, loc_name], str(exc), _error_type(str(exc))) from None

    return extract


def _loc_msg(exc: msgspec.ValidationError, base: list[Any]) -> tuple[list[Any], str, str]:
    entry = validation_error_entry(exc, base)
    return entry["loc"], entry["msg"], entry["type"]


def is_json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _make_body_extractor(
    name: str, tp: Any, required: bool, default: Any
) -> Callable[[Request], Any]:
    inner, optional = _unwrap_optional(tp)
    decoder = msgspec.json.Decoder(inner)

    def extract_body(request: Request) -> Any:
        body = request.body
        if not body:
            if required and not optional:
                raise ParamError(["body"], "Field required", "missing")
            return None if optional and default is markers._UNSET else default
        content_type = request.headers.get("content-type")
        if content_type is not None and not is_json_content_type(content_type):
            raise UnsupportedMediaType(
                f"Expected a JSON body (Content-Type: application/json), got {content_type!r}"
            )
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise ParamError(*_loc_msg(exc, ["body"])) from None
        except msgspec.DecodeError as exc:
            raise ParamError(["body"], f"Invalid JSON: {exc}", "json_invalid") from None
        except UnicodeDecodeError:
            raise ParamError(
                ["body"], "Invalid JSON: the body is not valid UTF-8", "json_invalid"
            ) from None

    return extract_body


class RoutePlan:
    """How to call one handler: argument extractors, sync/async, response type."""

    def __init__(
        self,
        handler: Callable[..., Any],
        path: str,
        *,
        response_model: Any = None,
        status_code: int = 200,
        name: str = "",
        dependency: bool = False,
    ) -> None:
        self.handler = handler
        self.path = path
        self.name = name or getattr(handler, "__qualname__", repr(handler))
        self.status_code = status_code
        self.is_async = inspect.iscoroutinefunction(handler)
        # Python authentication / guards, Django middleware (set when the site is compiled).
        self.gate: Any = None
        self.django_chain: Any = None
        # Some argument comes from an async dependency: extraction must be awaited.
        self.async_extract = False
        self.extractors: list[tuple[str, Callable[[Request], Any]]] = []
        self.request_param: str | None = None
        self.body_param: str | None = None
        # What the OpenAPI document says about the inputs: (source, wire name, type,
        # required, default, marker) for path/query/header/cookie/form/file values, and
        # the body's (type, required).
        self.doc_params: list[tuple[str, str, Any, bool, Any, Any]] = []
        self.doc_body: tuple[Any, bool] | None = None
        # The same plan in the form the Rust fast path runs; None when an argument
        # needs something only the Python path does.
        self.fast_args: list[tuple[Any, ...]] | None = []
        hints = _type_hints(handler)
        sig = inspect.signature(handler)
        path_names = set(path_param_names(path))
        for pname, param in sig.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            annotation = hints.get(pname, param.annotation)
            self._add_param(pname, param, annotation, path_names)
        if self.doc_body is None:
            # A handler that reads its body itself may say what it expects.
            self.doc_body = getattr(handler, "__bolt_body__", None)
        missing = path_names - {n for n, _ in self.extractors}
        if missing and not dependency:
            raise TypeError(
                f"{self.name}: path parameter(s) {sorted(missing)} of {path!r} have no "
                "matching handler argument"
            )
        if response_model is None:
            ret = hints.get("return", inspect.Signature.empty)
            if ret not in (inspect.Signature.empty, None, type(None), Any) and not (
                isinstance(ret, type) and issubclass(ret, Response)
            ):
                response_model = ret
        # @paginate: the handler returns a Page; response_model is the list of items.
        self.pagination = getattr(handler, "__bolt_pagination__", None)
        self.page_item_type: Any = None
        if self.pagination is not None:
            self.fast_args = None
            if get_origin(response_model) in (list, tuple):
                self.page_item_type = get_args(response_model)[0]
        self.response_model = response_model
        self.response_type = None
        # `-> ArticleSerializer` / `-> list[ArticleSerializer]`: encoded by the serializer.
        self.response_serializer: tuple[Any, bool] | None = _serializer_of(response_model)
        if self.response_serializer is not None:
            self.fast_args = None
        if (
            response_model is not None
            and self.pagination is None
            and self.response_serializer is None
        ):
            self.response_type = response_model
        self.no_args = not self.extractors

    def _add_param(
        self, pname: str, param: inspect.Parameter, annotation: Any, path_names: set[str]
    ) -> None:
        default = param.default
        depends = _depends_marker(annotation, default)
        if depends is not None:
            extractor = DependencyExtractor(depends, annotation, self.path, self.name)
            self.extractors.append((pname, extractor))
            self.doc_params.extend(extractor.plan.doc_params)
            if self.doc_body is None:
                self.doc_body = extractor.plan.doc_body
            self.async_extract = self.async_extract or extractor.is_async
            self.fast_args = None
            return
        base, marker = _split_annotation(annotation)
        if isinstance(default, markers.Param):
            marker, default = default, default.default
        elif marker is not None and marker.default is not markers._UNSET:
            default = marker.default
        if default is inspect.Parameter.empty or default is ...:
            default = markers._UNSET
        if (
            pname == "request"
            and marker is None
            or (isinstance(base, type) and issubclass(base, Request))
        ):
            self.request_param = pname
            self.extractors.append((pname, _request_extractor))
            self._fast(("request", pname, Request))
            return
        from .websocket import WebSocket

        if (pname == "websocket" and marker is None) or (
            isinstance(base, type) and issubclass(base, WebSocket)
        ):
            self.extractors.append((pname, _websocket_extractor))
            self.fast_args = None
            return
        inner, optional = _unwrap_optional(base)
        serializer = _serializer_of(inner)
        if serializer is not None and not serializer[1]:
            # A ModelSerializer as a parameter: the body, as its input type.
            inner = base = serializer[0].input_type()
            if optional:
                base = base | None
        if marker is None:
            if pname in path_names:
                source = "path"
            elif _is_upload_type(inner):
                source = "file"
            elif _is_struct(inner) or (
                get_origin(inner) in (list, dict) and any(_is_struct(a) for a in get_args(inner))
            ):
                source = "body"
            else:
                source = "query"
        else:
            source = marker.source
        if source == "body":
            if self.body_param is not None:
                raise TypeError(f"{self.name}: only one body parameter is supported")
            self.body_param = pname
            required = default is markers._UNSET and not optional
            body_default = None if default is markers._UNSET else default
            self.doc_body = (inner, required)
            self.extractors.append(
                (pname, _make_body_extractor(pname, base, required, body_default))
            )
            decoder = msgspec.json.Decoder(inner)
            self._fast(("body", pname, decoder.decode, required, body_default))
            return
        if source == "file":
            key = marker.alias if marker and marker.alias else pname
            required = default is markers._UNSET and not optional
            self.doc_params.append(("file", key, inner, required, None, marker))
            spec = marker if isinstance(marker, markers.File) else markers.File()
            self.extractors.append(
                (
                    pname,
                    _make_file_extractor(
                        key, inner, required, None if default is markers._UNSET else default, spec
                    ),
                )
            )
            self.fast_args = None
            return
        key = marker.alias if marker and marker.alias else pname
        if source == "header" and not (marker and marker.alias):
            key = pname.replace("_", "-")
        if source == "header":
            key = key.lower()
        required = default is markers._UNSET and not optional
        value_default = None if default is markers._UNSET else default
        constraints = marker.constraints if marker else {}
        self.doc_params.append((source, key, base, required, value_default, marker))
        self.extractors.append(
            (
                pname,
                _make_value_extractor(
                    source,
                    key,
                    key if source != "path" else pname,
                    base,
                    required,
                    value_default,
                    constraints,
                ),
            )
        )
        if source not in ("path", "query", "header") or _is_sequence(inner):
            self.fast_args = None
        else:
            kind = _FAST_KINDS.get(inner, "convert") if not constraints else "convert"
            converter = _scalar_converter(inner, constraints)
            self._fast(
                (
                    "value",
                    pname,
                    source,
                    key,
                    kind,
                    required,
                    value_default,
                    source == "query" and optional,
                    converter,
                )
            )

    def _fast(self, arg: tuple[Any, ...]) -> None:
        if self.fast_args is not None:
            self.fast_args.append(arg)

    def fast_plan(self) -> Any:
        """The Rust FastPlan for this route, or None when only Python can run it."""
        from ._core import FastPlan

        if self.fast_args is None or not self.is_async or self.django_chain is not None:
            return None
        return FastPlan(
            self.handler,
            list(self.fast_args),
            self.status_code,
            self.response_type is None,
            json_encode,
        )

    def extract(self, request: Request) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, extractor in self.extractors:
            try:
                kwargs[name] = extractor(request)
            except ParamError as exc:
                errors.append(exc.error)
            except RequestValidationError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RequestValidationError(errors)
        return kwargs

    async def aextract(self, request: Request) -> dict[str, Any]:
        """`extract` for plans with async dependencies."""
        kwargs: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for name, extractor in self.extractors:
            try:
                if type(extractor) is DependencyExtractor:
                    kwargs[name] = await extractor.aresolve(request)
                else:
                    kwargs[name] = extractor(request)
            except ParamError as exc:
                errors.append(exc.error)
            except RequestValidationError as exc:
                errors.extend(exc.errors)
        if errors:
            raise RequestValidationError(errors)
        return kwargs

    def call(self, request: Request) -> Any:
        """Calls the handler: a coroutine for async handlers, the result for sync ones.
        Python authentication and guards, when the request still needs them, run first."""
        if self.gate is not None and request.auth_pending:
            if self.is_async:
                return self._call_gated(request)
            from asgiref.sync import async_to_sync

            async_to_sync(self.gate.run)(request)
            request.auth_pending = False
            return self.call(request)
        if self.no_args:
            return self.handler()
        if self.async_extract:
            if self.is_async:
                return self._call_after_async_extract(request)
            from asgiref.sync import async_to_sync

            return self.handler(**async_to_sync(self.aextract)(request))
        return self.handler(**self.extract(request))

    async def _call_gated(self, request: Request) -> Any:
        await self.gate.run(request)
        request.auth_pending = False
        result = self.call(request)
        return await result if inspect.isawaitable(result) else result

    async def _call_after_async_extract(self, request: Request) -> Any:
        return await self.handler(**(await self.aextract(request)))

    def validate_response(self, result: Any) -> Any:
        if self.pagination is not None and isinstance(result, Page):
            return result.render(self.page_item_type)
        if self.response_serializer is not None and not isinstance(
            result, (Response, msgspec.Struct, dict)
        ):
            serializer, many = self.response_serializer
            return serializer.serialize_many(result) if many else serializer.serialize(result)
        tp = self.response_type
        if tp is None or isinstance(result, Response):
            return result
        if isinstance(tp, type) and isinstance(result, tp):
            return result
        try:
            return msgspec.convert(result, tp, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise ResponseValidationError(self.name, str(exc)) from None


_FAST_KINDS = {str: "str", int: "int", float: "float", bool: "bool", Any: "str"}


def _serializer_of(tp: Any) -> tuple[Any, bool] | None:
    """(ModelSerializer class, many) when ``tp`` is one or a list of one."""
    from .serializers import ModelSerializer

    many = get_origin(tp) in (list, tuple)
    inner = get_args(tp)[0] if many and get_args(tp) else tp
    if isinstance(inner, type) and issubclass(inner, ModelSerializer):
        return inner, many
    return None


def _request_extractor(request: Request) -> Request:
    return request


def _websocket_extractor(request: Request) -> Any:
    return request.websocket


def _type_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    target = handler.__init__ if isinstance(handler, type) else handler
    try:
        return get_type_hints(target, include_extras=True)
    except Exception:
        return dict(getattr(target, "__annotations__", {}))


JSON_TYPE = "application/json"


def render_result(
    plan: RoutePlan | None, result: Any
) -> tuple[int, bytes, str | None, list[tuple[str, str]] | None]:
    """Turns a handler's return value into (status, body, content type, extra headers).
    Without a plan (an exception handler's result) the status defaults to 200 and no
    response type is checked."""
    status = plan.status_code if plan is not None else 200
    cls = type(result)
    if (cls is dict or cls is list) and (
        plan is None or (plan.response_type is None and plan.response_serializer is None)
    ):
        return status, json_encode(result), JSON_TYPE, None
    headers: list[tuple[str, str]] | None = None
    if cls is tuple:
        if len(result) == 2:
            result, status = result
        elif len(result) == 3:
            result, status, extra = result
            headers = [(str(k), str(v)) for k, v in dict(extra or {}).items()]
        else:
            raise TypeError("a handler may return (body, status) or (body, status, headers)")
        status = int(status)
    if isinstance(result, Response):
        hdrs = result.header_list()
        if headers:
            hdrs.extend(headers)
        media = result.media_type
        if media is None and not isinstance(result.content, (bytes, str)):
            media = JSON_TYPE
        code = result.status_code if cls is not tuple else status
        return code, result.render(), media, hdrs or None
    if isinstance(result, HttpResponseBase):
        hdrs = [(k, v) for k, v in result.items()]
        hdrs.extend(("set-cookie", c.output(header="").strip()) for c in result.cookies.values())
        body = result.content if not result.streaming else b"".join(result.streaming_content)
        result.close()
        return result.status_code, body, None, hdrs
    if plan is not None:
        result = plan.validate_response(result)
    if isinstance(result, str):
        return status, result.encode(), "text/plain; charset=utf-8", headers
    if isinstance(result, (bytes, bytearray, memoryview)):
        return status, bytes(result), "application/octet-stream", headers
    return status, json_encode(result), JSON_TYPE, headers


def _depends_marker(annotation: Any, default: Any) -> markers.Depends | None:
    if isinstance(default, markers.Depends):
        return default
    if get_origin(annotation) is Annotated:
        for extra in get_args(annotation)[1:]:
            if isinstance(extra, markers.Depends):
                return extra
    return None


class DependencyExtractor:
    """Resolves one ``Depends`` argument, once per request unless ``use_cache=False``."""

    def __init__(self, depends: markers.Depends, annotation: Any, path: str, owner: str) -> None:
        dependency = depends.dependency
        if dependency is None:
            base = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
            if not callable(base) or base is inspect.Parameter.empty:
                raise TypeError(f"{owner}: Depends() needs a callable or a class annotation")
            dependency = base
        self.dependency = dependency
        self.use_cache = depends.use_cache
        self.plan = RoutePlan(dependency, path, name=_callable_name(dependency), dependency=True)
        self.returns_awaitable = inspect.iscoroutinefunction(dependency)
        self.is_async = self.returns_awaitable or self.plan.async_extract

    def __call__(self, request: Request) -> Any:
        """Synchronous resolution (no async dependency anywhere below)."""
        cache = request.dependency_cache
        if self.use_cache and self.dependency in cache:
            return cache[self.dependency]
        value = self.dependency(**self.plan.extract(request))
        if self.use_cache:
            cache[self.dependency] = value
        return value

    async def aresolve(self, request: Request) -> Any:
        cache = request.dependency_cache
        if self.use_cache and self.dependency in cache:
            return cache[self.dependency]
        kwargs = (
            await self.plan.aextract(request)
            if self.plan.async_extract
            else self.plan.extract(request)
        )
        value = self.dependency(**kwargs)
        if inspect.isawaitable(value):
            value = await value
        if self.use_cache:
            cache[self.dependency] = value
        return value


def _callable_name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _is_upload_type(tp: Any) -> bool:
    from .uploads import UploadFile

    if tp is UploadFile:
        return True
    return get_origin(tp) is list and get_args(tp)[:1] == (UploadFile,)


def _type_matches(content_type: str, allowed: list[str]) -> bool:
    content_type = content_type.split(";")[0].strip().lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern in ("*", "*/*") or pattern == content_type:
            return True
        if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
            return True
    return False


def _make_file_extractor(
    key: str, tp: Any, required: bool, default: Any, spec: markers.File
) -> Callable[[Request], Any]:
    """UploadFile, list[UploadFile], bytes or list[bytes] from the multipart body."""
    many = get_origin(tp) is list
    item = get_args(tp)[0] if many and get_args(tp) else tp
    as_bytes = item is bytes
    loc = ["form", key]

    def check(upload: Any) -> None:
        if spec.max_size is not None and upload.size > spec.max_size:
            raise ParamError(
                loc, f"File {upload.filename!r} is larger than {spec.max_size} bytes", "value_error"
            )
        if spec.min_size is not None and upload.size < spec.min_size:
            raise ParamError(
                loc,
                f"File {upload.filename!r} is smaller than {spec.min_size} bytes",
                "value_error",
            )
        if spec.allowed_types and not _type_matches(upload.content_type, spec.allowed_types):
            raise ParamError(
                loc,
                f"File type {upload.content_type!r} is not allowed (allowed: {', '.join(spec.allowed_types)})",
                "value_error",
            )

    def extract_file(request: Request) -> Any:
        uploads = request.uploads.get(key)
        if not uploads:
            if required:
                raise ParamError(loc, "Field required", "missing")
            return default
        if spec.max_files is not None and len(uploads) > spec.max_files:
            raise ParamError(loc, f"At most {spec.max_files} files are allowed", "value_error")
        for upload in uploads:
            check(upload)
        if as_bytes:
            values = [bytes(u.read()) for u in uploads]
            return values if many else values[0]
        return list(uploads) if many else uploads[0]

    return extract_file
