"""The OpenAPI 3.1 document of one API (a Router), generated from its routes.

Everything comes from what the routes already declare: path, query, header and cookie
parameters with their types, constraints and defaults; bodies and responses as msgspec
types (JSON Schema 2020-12, which OpenAPI 3.1 uses as is); ModelSerializers through their
generated types; pagination envelopes; the 422 error shape; security schemes from the
authentication backends; tags from ViewSets.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from typing import TYPE_CHECKING, Annotated, Any, get_args, get_origin

import msgspec

from ..auth.backends import APIKeyAuthentication, JWTAuthentication, SessionAuthentication
from ..middleware.decorators import route_middleware
from ..routing.coercion import INT_MAX, INT_MIN
from ..routing.pagination import PageNumberPagination
from ..routing.paths import WEBSOCKET, join_paths
from ..routing.policy import api_middleware, route_auth
from ..routing.serializers import ModelSerializer

if TYPE_CHECKING:
    from ..routing.router import Route, Router

REF = "#/components/schemas/{name}"
_TYPED_PARAM = re.compile(r"{(\w+):\w+}")

VALIDATION_ERROR = {
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
    "required": ["detail"],
}
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}


@dataclasses.dataclass
class OpenAPIInfo:
    """The document's ``info``: ``BoltAPI(info=OpenAPIInfo(title=..., version=...))``."""

    title: str = "API"
    version: str = "1.0.0"
    description: str = ""
    terms_of_service: str | None = None
    contact: dict[str, str] | None = None
    license: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "version": self.version}
        if self.description:
            out["description"] = self.description
        if self.terms_of_service:
            out["termsOfService"] = self.terms_of_service
        if self.contact:
            out["contact"] = dict(self.contact)
        if self.license:
            out["license"] = dict(self.license)
        return out


class _Types:
    """Collects the types the document refers to; one schema_components call at the end
    turns them into schemas (shared structs become components)."""

    def __init__(self) -> None:
        self.types: list[Any] = []
        self.slots: list[tuple[dict[str, Any], str, int]] = []

    def ref(self, holder: dict[str, Any], key: str, tp: Any) -> None:
        """Sets ``holder[key]`` to the schema of ``tp`` once it is known."""
        self.slots.append((holder, key, len(self.types)))
        self.types.append(tp)

    def resolve(self) -> dict[str, Any]:
        if not self.types:
            return {}
        schemas, components = msgspec.json.schema_components(self.types, ref_template=REF)
        for holder, key, index in self.slots:
            holder[key] = schemas[index]
        return components


def _openapi_path(path: str) -> str:
    return _TYPED_PARAM.sub(r"{\1}", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    try:
        msgspec.json.encode(value)
    except (TypeError, msgspec.EncodeError):
        return None
    return value


def _unwrap_optional(tp: Any) -> Any:
    import types
    from typing import Union

    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _param_schema(tp: Any, marker: Any) -> dict[str, Any]:
    tp = _unwrap_optional(tp)
    constraints = getattr(marker, "constraints", None) or {}
    if constraints:
        tp = Annotated[tp, msgspec.Meta(**constraints)]
    try:
        schema = msgspec.json.schema(tp)
    except (TypeError, ValueError):
        return {}
    if schema.get("type") == "integer":
        # Integers from the URL are 64-bit (a larger one is a 422).
        schema.setdefault("format", "int64")
        schema["minimum"] = max(schema.get("minimum", INT_MIN), INT_MIN)
        schema["maximum"] = min(schema.get("maximum", INT_MAX), INT_MAX)
    return schema


def _serializer_type(tp: Any) -> Any:
    """msgspec types for ModelSerializers (and lists of them)."""
    if isinstance(tp, type) and issubclass(tp, ModelSerializer):
        return tp.output_type()
    if get_origin(tp) in (list, tuple) and get_args(tp):
        inner = get_args(tp)[0]
        if isinstance(inner, type) and issubclass(inner, ModelSerializer):
            return list[inner.output_type()]  # type: ignore[valid-type]
    return tp


def _schema_able(tp: Any) -> bool:
    try:
        msgspec.json.schema(tp)
    except (TypeError, ValueError):
        return False
    return True


def _page_schema(pagination: Any, types: _Types, item_type: Any) -> dict[str, Any]:
    fields = dict(getattr(pagination, "envelope", {}))
    items: dict[str, Any] = {"type": "array", "items": {}}
    item = _serializer_type(item_type) if item_type is not None else None
    if item is not None and _schema_able(item):
        types.ref(items, "items", item)
    return {
        "type": "object",
        "properties": {**fields, "items": items},
        "required": [*fields, "items"],
    }


def _security_schemes(auth: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    from django.conf import settings

    out = []
    for backend in auth:
        if isinstance(backend, JWTAuthentication):
            out.append(("JWTBearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}))
        elif isinstance(backend, APIKeyAuthentication):
            header = getattr(backend, "header", "x-api-key")
            name = "APIKey" if header.lower() == "x-api-key" else f"APIKey.{header}"
            out.append((name, {"type": "apiKey", "in": "header", "name": header}))
        elif isinstance(backend, SessionAuthentication):
            name = settings.SESSION_COOKIE_NAME
            out.append(("SessionCookie", {"type": "apiKey", "in": "cookie", "name": name}))
    return out


def _operation_id(route: Route, method: str, seen: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]+", "_", route.name).strip("_") or "operation"
    candidate = f"{base}_{method.lower()}" if len(route.methods) > 1 else base
    n = 2
    unique = candidate
    while unique in seen:
        unique = f"{candidate}_{n}"
        n += 1
    seen.add(unique)
    return unique


def _summary(route: Route) -> str:
    summary = route.options.get("summary")
    if summary:
        return str(summary)
    name = getattr(route.handler, "__name__", "") or route.name.rsplit(".", 1)[-1]
    return name.replace("_", " ").strip().capitalize()


def build_document(api: Router, mount_prefix: str = "") -> dict[str, Any]:
    """The OpenAPI document of ``api`` mounted at ``mount_prefix``, covering also the APIs
    served with it under the same documentation (``api.docs_with``)."""
    types = _Types()
    paths: dict[str, dict[str, Any]] = {}
    schemes: dict[str, dict[str, Any]] = {}
    tags: list[str] = []
    seen_ids: set[str] = set()
    routes = [route for router in (api, *api.docs_with) for route in router.routes]
    for route in routes:
        if WEBSOCKET in route.methods or not route.options.get("include_in_schema", True):
            continue
        plan = route.plan
        path = _openapi_path(join_paths(mount_prefix, route.path))
        item = paths.setdefault(path, {})
        auth, guards = route_auth(route.router, route)
        route_schemes = _security_schemes(auth)
        for name, scheme in route_schemes:
            schemes[name] = scheme
        for method in route.methods:
            op: dict[str, Any] = {
                "operationId": _operation_id(route, method, seen_ids),
                "summary": _summary(route),
            }
            description = route.options.get("description") or inspect.getdoc(route.handler)
            if description:
                op["description"] = description
            route_tags = route.options.get("tags")
            if route_tags:
                op["tags"] = list(route_tags)
                tags += [t for t in route_tags if t not in tags]
            parameters, form = [], []
            for source, key, tp, required, default, marker in plan.doc_params:
                if marker is not None and not getattr(marker, "include_in_schema", True):
                    continue
                if source in ("form", "file"):
                    form.append((source, key, tp, required, marker))
                    continue
                param: dict[str, Any] = {
                    "name": key,
                    "in": source,
                    "required": True if source == "path" else required,
                    "schema": _param_schema(tp, marker),
                }
                if default is not None and source != "path":
                    value = _json_default(default)
                    if value is not None:
                        param["schema"]["default"] = value
                if marker is not None and getattr(marker, "description", None):
                    param["description"] = marker.description
                if marker is not None and getattr(marker, "deprecated", False):
                    param["deprecated"] = True
                parameters.append(param)
            if parameters:
                op["parameters"] = parameters
            if plan.doc_body is not None:
                body_type, body_required = plan.doc_body
                media: dict[str, Any] = {}
                types.ref(media, "schema", body_type)
                op["requestBody"] = {
                    "required": body_required,
                    "content": {"application/json": media},
                }
            elif form:
                props: dict[str, Any] = {}
                required_fields = []
                has_file = False
                for source, key, tp, required, marker in form:
                    if source == "file":
                        has_file = True
                        props[key] = {
                            "type": "string",
                            "contentMediaType": "application/octet-stream",
                        }
                    else:
                        props[key] = _param_schema(tp, marker)
                    if required:
                        required_fields.append(key)
                content_type = (
                    "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
                )
                schema: dict[str, Any] = {
                    "type": "object",
                    "properties": props,
                    # Other fields are accepted (and ignored) unless their names hold
                    # control characters, which multipart headers cannot carry.
                    "propertyNames": {"pattern": "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"},
                }
                if required_fields:
                    schema["required"] = required_fields
                op["requestBody"] = {
                    "required": bool(required_fields),
                    "content": {content_type: {"schema": schema}},
                }
            op["responses"] = _responses(route, plan, types, parameters or plan.doc_body or form)
            if form and plan.doc_body is None:
                op["responses"]["400"] = _error_response("A malformed form body")
            if _rate_limited(api, route):
                op["responses"]["429"] = _error_response("Too many requests (see Retry-After)")
            if route_schemes:
                op["security"] = [{name: []} for name, _ in route_schemes]
                op["responses"]["401"] = _error_response("Not authenticated")
                if guards:
                    op["responses"]["403"] = _error_response("Permission denied")
            item[method.lower()] = op
    components = types.resolve()
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": api.info.as_dict(),
        "paths": paths,
        "components": {
            "schemas": {
                **components,
                "ValidationError": VALIDATION_ERROR,
                "Error": ERROR,
            }
        },
    }
    if schemes:
        document["components"]["securitySchemes"] = schemes
    if tags:
        document["tags"] = [{"name": t} for t in tags]
    return document


def _rate_limited(api: Router, route: Route) -> bool:
    declared = route_middleware(route.handler)
    if "rate_limit" in declared:
        return True
    return "rate_limit" in api_middleware(api) and "rate_limit" not in declared.get("skip", set())


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(name="Error")}}},
    }


def _responses(route: Route, plan: Any, types: _Types, has_inputs: Any) -> dict[str, Any]:
    status = str(plan.status_code)
    responses: dict[str, Any] = {}
    if plan.status_code == 204:
        responses[status] = {"description": "No Content"}
    else:
        content: dict[str, Any] = {}
        model = plan.response_model
        if plan.pagination is not None:
            content["schema"] = _page_schema(plan.pagination, types, plan.page_item_type)
        elif model is not None:
            model = _serializer_type(model)
            if _schema_able(model):
                types.ref(content, "schema", model)
        responses[status] = {
            "description": "Successful Response",
            "content": {"application/json": content},
        }
    if has_inputs:
        responses["422"] = {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": REF.format(name="ValidationError")}}
            },
        }
    if isinstance(plan.pagination, PageNumberPagination):
        responses["404"] = _error_response("Page out of range")
    if "{" in route.path:
        # A missing object (ObjectDoesNotExist, get_object(), Http404) is a 404.
        responses.setdefault("404", _error_response("Not found"))
    for code, declared in (route.options.get("responses") or {}).items():
        if isinstance(declared, str):
            responses[str(code)] = _error_response(declared)
        elif isinstance(declared, dict):
            responses[str(code)] = declared
        else:
            content: dict[str, Any] = {}
            types.ref(content, "schema", _serializer_type(declared))
            responses[str(code)] = {
                "description": getattr(declared, "__name__", "Response"),
                "content": {"application/json": content},
            }
    return responses
