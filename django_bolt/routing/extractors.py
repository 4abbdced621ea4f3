"""The extractors a route plan runs per request: one function per handler argument,
reading the path, query, headers, cookies, form, files or JSON body of a ``Request``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, get_args, get_origin

import msgspec

from ..http.errors import UnsupportedMediaType
from ..http.request import Request
from ..http.uploads import UploadFile
from . import params as markers
from .coercion import (
    ParamError,
    error_type,
    is_sequence,
    loc_msg,
    scalar_converter,
    unwrap_optional,
)


def split_annotation(annotation: Any) -> tuple[Any, markers.Param | None]:
    if get_origin(annotation) is Annotated:
        base, *extras = get_args(annotation)
        for extra in extras:
            if isinstance(extra, markers.Param):
                return base, extra.as_annotated_marker()
        return base, None
    return annotation, None


def make_value_extractor(
    source: str,
    key: str,
    loc_name: str,
    tp: Any,
    required: bool,
    default: Any,
    constraints: dict[str, Any],
) -> Callable[[Request], Any]:
    inner, optional = unwrap_optional(tp)
    if is_sequence(inner) and source in ("query", "header", "form"):
        list_type = inner if not constraints else Annotated[inner, msgspec.Meta(**constraints)]

        def extract_list(request: Request) -> Any:
            if source == "query":
                values = request.query_lists.get(key)
            elif source == "form":
                refuse_other_bodies(request)
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
                raise ParamError(*loc_msg(exc, [source, loc_name])) from None

        return extract_list

    convert = scalar_converter(inner, constraints)

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
                raise ParamError([source, loc_name], str(exc), error_type(str(exc))) from None

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
                raise ParamError([source, loc_name], str(exc), error_type(str(exc))) from None

        return extract_query

    def extract(request: Request) -> Any:
        if source == "form":
            refuse_other_bodies(request)
        raw = getter_for(request)
        if raw is None:
            if required:
                raise ParamError([source, loc_name], "Field required", "missing")
            return default
        try:
            return convert(raw)
        except ValueError as exc:
            raise ParamError([source, loc_name], str(exc), error_type(str(exc))) from None

    return extract


def is_json_content_type(value: str) -> bool:
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_other_bodies(request: Request) -> None:
    """A route that reads a form refuses a body of another declared type with 415
    (rather than reading it as an empty form)."""
    content_type = request.headers.get("content-type")
    if content_type is None or not request.body:
        return
    if content_type.split(";", 1)[0].strip().lower() not in FORM_TYPES:
        raise UnsupportedMediaType(
            "Expected a form body (Content-Type: application/x-www-form-urlencoded or "
            f"multipart/form-data), got {content_type!r}"
        )


#: A JSON body nested past what the decoder follows (thousands of levels).
TOO_DEEP = "Invalid JSON: nested too deeply"


def make_body_extractor(
    name: str, tp: Any, required: bool, default: Any
) -> Callable[[Request], Any]:
    inner, optional = unwrap_optional(tp)
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
            raise ParamError(*loc_msg(exc, ["body"])) from None
        except msgspec.DecodeError as exc:
            raise ParamError(["body"], f"Invalid JSON: {exc}", "json_invalid") from None
        except RecursionError:
            raise ParamError(["body"], TOO_DEEP, "json_invalid") from None
        except UnicodeDecodeError:
            raise ParamError(
                ["body"], "Invalid JSON: the body is not valid UTF-8", "json_invalid"
            ) from None

    return extract_body


def is_upload_type(tp: Any) -> bool:
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


def make_file_extractor(
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
        refuse_other_bodies(request)
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


def request_extractor(request: Request) -> Request:
    return request


def websocket_extractor(request: Request) -> Any:
    return request.websocket
