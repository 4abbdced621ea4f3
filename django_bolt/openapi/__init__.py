"""OpenAPI 3.1 for BoltAPI routes, and four documentation UIs served with the API.

``BoltAPI(info=OpenAPIInfo(title=..., version=..., description=...))``; the document is
at ``<mount>/openapi.json`` and the UIs at ``<mount>/docs`` (Swagger UI), ``/redoc``,
``/scalar`` and ``/rapiddoc``, every asset served by the API itself.
"""

from .schema import OpenAPIInfo, build_document

__all__ = ["OpenAPIInfo", "build_document"]
