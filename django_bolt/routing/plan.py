"""The compiled plan of one route, built once when the route is registered: for each
handler argument where its value comes from and how to coerce it, the response type,
and the one way to run the route (extract, call, validate, render)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_args, get_origin, get_type_hints

import msgspec
from asgiref.sync import async_to_sync, sync_to_async

from .._core import FastPlan
from ..boundary import BodyArg, FastArg, RequestArg, ValueArg
from ..contrib.sessions import middleware as sessions
from ..http.encoding import json_encode
from ..http.error_response import error_response
from ..http.errors import RequestValidationError, ResponseValidationError
from ..http.rendering import NO_BODY, Rendered, render_result
from ..http.request import Request
from ..http.responses import FileResponse, Response, StreamingResponse
from ..websocket.connection import WebSocket
from . import params as markers
from .coercion import (
    FAST_KINDS,
    ParamError,
    is_sequence,
    is_struct,
    scalar_converter,
    unwrap_optional,
)
from .dependencies import DependencyExtractor, callable_name, dependency_callable, depends_marker
from .extractors import (
    is_upload_type,
    make_body_extractor,
    make_file_extractor,
    make_value_extractor,
    request_extractor,
    split_annotation,
    websocket_extractor,
)
from .orm import evaluated
from .pagination import Page
from .paths import path_param_names
from .serializers import ModelSerializer

#: What running a route produces: (status, body, content type, extra headers), or a
#: streamed or file response that the server sends itself.
Answer = Rendered | StreamingResponse | FileResponse


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
        # Set by bind(): Python authentication and guards, the API's Django middleware
        # chain and exception handler, DEBUG (each site and the Django view bind a copy).
        self.gate: Any = None
        self.django_chain: Any = None
        self.exception_handler: Callable[[Exception, Any], Any] | None = None
        self.debug = False
        self.middleware: Any = None
        # Some argument comes from an async dependency: extraction must be awaited.
        self.async_extract = False
        self.extractors: list[tuple[str, Callable[[Request], Any]]] = []
        self.body_param: str | None = None
        # What the OpenAPI document says about the inputs: (source, wire name, type,
        # required, default, marker) for path/query/header/cookie/form/file values, and
        # the body's (type, required).
        self.doc_params: list[tuple[str, str, Any, bool, Any, Any]] = []
        self.doc_body: tuple[Any, bool] | None = None
        # The same plan in the form the Rust fast path runs; None when an argument
        # needs something only the Python path does.
        self.fast_args: list[FastArg] | None = []
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
        self.response_serializer: tuple[Any, bool] | None = serializer_of(response_model)
        if self.response_serializer is not None:
            self.fast_args = None
        if (
            response_model is not None
            and self.pagination is None
            and self.response_serializer is None
        ):
            self.response_type = response_model
        self.no_args = not self.extractors
        # Whether a result needs checking against a declared type before it is encoded.
        self.validates = (
            self.response_type is not None
            or self.response_serializer is not None
            or self.pagination is not None
        )

    def _add_param(
        self, pname: str, param: inspect.Parameter, annotation: Any, path_names: set[str]
    ) -> None:
        default = param.default
        depends = depends_marker(annotation, default)
        if depends is not None:
            dependency = dependency_callable(depends, annotation, self.name)
            sub_plan = RoutePlan(
                dependency, self.path, name=callable_name(dependency), dependency=True
            )
            extractor = DependencyExtractor(dependency, depends.use_cache, sub_plan)
            self.extractors.append((pname, extractor))
            self.doc_params.extend(extractor.plan.doc_params)
            if self.doc_body is None:
                self.doc_body = extractor.plan.doc_body
            self.async_extract = self.async_extract or extractor.is_async
            self.fast_args = None
            return
        base, marker = split_annotation(annotation)
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
            self.extractors.append((pname, request_extractor))
            self._fast(RequestArg("request", pname, Request))
            return
        if (pname == "websocket" and marker is None) or (
            isinstance(base, type) and issubclass(base, WebSocket)
        ):
            self.extractors.append((pname, websocket_extractor))
            self.fast_args = None
            return
        inner, optional = unwrap_optional(base)
        serializer = serializer_of(inner)
        if serializer is not None and not serializer[1]:
            # A ModelSerializer as a parameter: the body, as its input type.
            inner = base = serializer[0].input_type()
            if optional:
                base = base | None
        if marker is None:
            if pname in path_names:
                source = "path"
            elif is_upload_type(inner):
                source = "file"
            elif is_struct(inner) or (
                get_origin(inner) in (list, dict) and any(is_struct(a) for a in get_args(inner))
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
                (pname, make_body_extractor(pname, base, required, body_default))
            )
            decoder = msgspec.json.Decoder(inner)
            self._fast(BodyArg("body", pname, decoder.decode, required, body_default))
            return
        if source == "file":
            key = marker.alias if marker and marker.alias else pname
            required = default is markers._UNSET and not optional
            self.doc_params.append(("file", key, inner, required, None, marker))
            spec = marker if isinstance(marker, markers.File) else markers.File()
            self.extractors.append(
                (
                    pname,
                    make_file_extractor(
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
                make_value_extractor(
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
        if source not in ("path", "query", "header", "form") or is_sequence(inner):
            self.fast_args = None
        else:
            kind = FAST_KINDS.get(inner, "convert") if not constraints else "convert"
            converter = scalar_converter(inner, constraints)
            self._fast(
                ValueArg(
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

    def bind(
        self,
        *,
        gate: Any,
        django_chain: Any,
        exception_handler: Callable[[Exception, Any], Any] | None,
        debug: bool,
        atomic: bool = False,
        middleware: Any = None,
    ) -> None:
        """What the route needs from its API and the site to run. ``atomic`` applies the
        databases' ATOMIC_REQUESTS to a sync handler, as Django does to its views (under
        Django's own handler, Django wraps the view of ``api.urls`` itself). ``middleware``
        is the route's Python middleware chain."""
        self.gate = gate
        self.middleware = middleware
        self.django_chain = django_chain
        self.exception_handler = exception_handler
        self.debug = debug
        if atomic and not self.is_async:
            self.handler = atomic_requests(self.handler)

    def _fast(self, arg: FastArg) -> None:
        if self.fast_args is not None:
            self.fast_args.append(arg)

    def fast_plan(self) -> Any:
        """The Rust FastPlan for this route, or None when only Python can run it."""
        if (
            self.fast_args is None
            or not self.is_async
            or self.django_chain is not None
            or self.middleware is not None
        ):
            return None
        if self.status_code in NO_BODY:
            return None
        # What render_result would encode unchanged: a Struct when nothing is declared,
        # an instance of the declared class (validate_response lets it through).
        tp = self.response_type
        declared_struct = isinstance(tp, type) and issubclass(tp, msgspec.Struct)
        passthrough = msgspec.Struct if tp is None else tp if declared_struct else None
        return FastPlan(
            self.handler,
            list(self.fast_args),
            self.status_code,
            tp is None,
            json_encode,
            passthrough,
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
            async_to_sync(self.gate.run)(request)
            request.auth_pending = False
            return self.call(request)
        if self.middleware is not None:
            if self.is_async:
                return self.middleware.run(request, self._invoke, self.render, self.error)
            return async_to_sync(self.middleware.run)(
                request, sync_to_async(self._invoke), self.render, self.error
            )
        return self._invoke(request)

    def _invoke(self, request: Request) -> Any:
        """Extracts the arguments and calls the handler (a coroutine for async ones)."""
        if self.no_args:
            return self.handler()
        if self.async_extract:
            if self.is_async:
                return self._call_after_async_extract(request)
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
        result = evaluated(result)
        try:
            return msgspec.convert(result, tp, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise ResponseValidationError(self.name, str(exc)) from None

    # -- running the route: extract, call, validate, render -----------------------------
    def render(self, result: Any) -> Rendered:
        """The handler's result, checked against the declared response type, encoded."""
        return render_result(
            result, self.status_code, self.validate_response if self.validates else None
        )

    def error(self, exc: BaseException, request: Request) -> Rendered:
        """The answer to an exception from this route (the API's exception handler first)."""
        return error_response(
            exc, request, handler=self.exception_handler, route=self.name, debug=self.debug
        )

    def answer(self, request: Request, result: Any) -> Answer:
        """A result as the answer to send (streams and files are sent as they are); the
        session is saved and its cookie added when the handler used it."""
        if isinstance(result, (StreamingResponse, FileResponse)):
            return result
        status, body, content_type, headers = self.render(result)
        if request.loaded_session is not None:
            headers = (headers or []) + sessions.finish_sync(request, status)
        return status, body, content_type, headers

    def run_sync(self, request: Request) -> Answer:
        """Runs the route to its answer in the calling thread; exceptions become error
        answers. An async handler is awaited through ``async_to_sync`` and its result
        rendered back in this thread (so QuerySets are evaluated outside the loop)."""
        try:
            result = self.call(request)
            if self.is_async:
                result = async_to_sync(_awaited)(result)
            return self.answer(request, result)
        except Exception as exc:
            return self.error(exc, request)


def atomic_requests(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` inside a transaction on each database with ATOMIC_REQUESTS, except
    those it opts out of with ``transaction.non_atomic_requests``."""
    from django.db import connections, transaction

    skipped = getattr(handler, "_non_atomic_requests", set())
    for alias, database in connections.settings.items():
        if database.get("ATOMIC_REQUESTS") and alias not in skipped:
            handler = transaction.atomic(using=alias)(handler)
    return handler


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def serializer_of(tp: Any) -> tuple[Any, bool] | None:
    """(ModelSerializer class, many) when ``tp`` is one or a list of one."""
    many = get_origin(tp) in (list, tuple)
    inner = get_args(tp)[0] if many and get_args(tp) else tp
    if isinstance(inner, type) and issubclass(inner, ModelSerializer):
        return inner, many
    return None


def _type_hints(handler: Callable[..., Any]) -> dict[str, Any]:
    target = handler.__init__ if isinstance(handler, type) else handler
    try:
        return get_type_hints(target, include_extras=True)
    except Exception:
        return dict(getattr(target, "__annotations__", {}))
