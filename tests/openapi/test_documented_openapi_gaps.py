"""What docs/openapi.md promises and the other OpenAPI tests leave open: header and cookie
parameters in the document (with their schema, ``required`` and defaults, and read from
the request as documented), ``SessionAuthentication`` as the session-cookie security
scheme, the Content-Security-Policy the documentation pages are sent with (the text of
the docs), and the pinned releases of the four UIs as the served files themselves say."""

from typing import Annotated

import pytest

from django_bolt import BoltAPI, Cookie, Depends, Header
from django_bolt.auth import SessionAuthentication
from django_bolt.testing import TestClient
from tests.conftest import answer, import_required

#: docs/openapi.md, "Offline, under a strict Content-Security-Policy": the policy as the
#: docs print it, up to their "; ..." (the rest is not spelled out there).
DOCUMENTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
)

UI_PAGES = ("/docs", "/redoc", "/scalar", "/rapiddoc")


def tenant(x_tenant: Annotated[str, Header(description="The tenant")]) -> str:
    return x_tenant


api = BoltAPI()


@api.get("/prefs")
async def prefs(
    x_request_id: Annotated[str, Header(min_length=3, max_length=12)],
    theme: Annotated[str, Cookie()] = "light",
    language: Annotated[str | None, Header("accept-language")] = None,
    visits: Annotated[int, Cookie(ge=1, description="Visits so far")] = 1,
    who: str = Depends(tenant),
):
    return {
        "request_id": x_request_id,
        "theme": theme,
        "language": language,
        "visits": visits,
        "tenant": who,
    }


@pytest.fixture(scope="module")
def client():
    with TestClient(api, django_fallback=False) as c:
        yield c


def test_header_and_cookie_parameters_are_in_the_document_with_schema_and_required(client):
    """docs/openapi.md: "path, query, header and cookie parameters with their types,
    `required`, defaults, constraints ... descriptions ...; parameters of `Depends`
    functions included"."""
    operation = client.get("/openapi.json").json()["paths"]["/prefs"]["get"]
    assert operation["parameters"] == [
        {
            "name": "x-request-id",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "maxLength": 12, "minLength": 3},
        },
        {
            "name": "theme",
            "in": "cookie",
            "required": False,
            "schema": {"type": "string", "default": "light"},
        },
        {
            "name": "accept-language",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {
            "name": "visits",
            "in": "cookie",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "format": "int64",
                "maximum": 2**63 - 1,
                "default": 1,
            },
            "description": "Visits so far",
        },
        {
            "name": "x-tenant",
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "The tenant",
        },
    ]
    validator = import_required("openapi_spec_validator")
    validator.validate(client.get("/openapi.json").json())


def test_the_documented_header_and_cookie_names_are_the_ones_the_route_reads(client):
    r = client.get(
        "/prefs",
        headers={
            "X-Request-Id": "req-42",
            "Accept-Language": "fr",
            "X-Tenant": "acme",
            "Cookie": "theme=dark; visits=7",
        },
    )
    assert answer(r) == (
        200,
        {
            "request_id": "req-42",
            "theme": "dark",
            "language": "fr",
            "visits": 7,
            "tenant": "acme",
        },
    )
    # What the document marks required and constrained is what the route refuses.
    r = client.get("/prefs", headers={"X-Request-Id": "no", "Cookie": "visits=0"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [
        ["header", "x-request-id"],
        ["cookie", "visits"],
        ["header", "x-tenant"],
    ]


def test_session_authentication_is_the_session_cookie_scheme(settings):
    """docs/openapi.md: "security schemes from the authentication backends: ...
    `SessionAuthentication` as the session cookie, with each route's alternatives in its
    `security`"."""
    settings.SESSION_COOKIE_NAME = "shop_session"
    session_api = BoltAPI()

    @session_api.get("/basket", auth=[SessionAuthentication()])
    async def basket():
        return {}

    @session_api.get("/open")
    async def open_route():
        return {}

    with TestClient(session_api, django_fallback=False) as client:
        document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "SessionCookie": {"type": "apiKey", "in": "cookie", "name": "shop_session"}
    }
    operation = document["paths"]["/basket"]["get"]
    assert operation["security"] == [{"SessionCookie": []}]
    assert "401" in operation["responses"]
    assert "security" not in document["paths"]["/open"]["get"]


@pytest.mark.parametrize("page", UI_PAGES)
def test_each_docs_page_is_sent_with_the_documented_content_security_policy(client, page):
    r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert policy.startswith(DOCUMENTED_CSP), policy
    # The docs' "..." stands for more directives, each allowing only the site itself.
    rest = policy[len(DOCUMENTED_CSP) :]
    assert rest, policy
    for directive in rest.split("; "):
        name, *sources = directive.split()
        assert sources and all(s in ("'self'", "blob:") for s in sources), directive


#: docs/openapi.md: "The assets are the upstream releases (Swagger UI 5.35.0, ReDoc 2.5.4,
#: Scalar 1.72.1, RapiDoc 9.3.8)": each release states its version inside its bundle.
RELEASE_MARKS = {
    "swagger-ui-bundle.js": b'PACKAGE_VERSION:"5.35.0"',
    "redoc.standalone.js": b'" ReDoc Version: ","2.5.4"',
    "scalar.standalone.js": b"@scalar/api-reference@1.72.1",
    "rapidoc-min.js": b"/*! RapiDoc 9.3.8 |",
}


@pytest.mark.parametrize(("asset", "mark"), RELEASE_MARKS.items())
def test_the_served_ui_assets_are_the_pinned_releases(client, asset, mark):
    r = client.get(f"/docs/assets/{asset}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript"
    assert mark in r.content
    # The page that uses the bundle loads this file, from the site itself.
    page = {
        "swagger-ui-bundle.js": "/docs",
        "redoc.standalone.js": "/redoc",
        "scalar.standalone.js": "/scalar",
        "rapidoc-min.js": "/rapiddoc",
    }[asset]
    assert f'<script src="/docs/assets/{asset}"></script>' in client.get(page).text
