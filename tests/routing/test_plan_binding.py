"""Each place a route runs binds its own copy of the route's plan: runbolt's site (with
``BOLT["DEBUG"]``), every test client, and the Django view of ``api.urls`` (reading
``settings.DEBUG`` per request, as Django does). None of them changes another's."""

from __future__ import annotations

import pytest
from django.middleware.security import SecurityMiddleware
from django.test import Client
from django.urls import path

from django_bolt import BoltAPI
from django_bolt.conf import load_config
from django_bolt.management.commands.runbolt import Command
from django_bolt.serializers import ModelSerializer
from django_bolt.testing import TestClient

api = BoltAPI(openapi_url=None, django_middleware=[SecurityMiddleware])


@api.get("/boom")
async def boom():
    raise RuntimeError("secret internals")


@api.get("/fine")
async def fine():
    return {"ok": True}


urlpatterns = [path("", api.urls)]


def _is_debug_answer(response) -> bool:
    return "secret internals" in response.text


def test_runbolt_compiles_with_bolt_debug(settings):
    settings.DEBUG = False
    settings.BOLT = {"DEBUG": True}
    site = Command()._compile(load_config())
    assert site.plans and all(plan.debug for plan in site.plans)
    settings.BOLT = {}
    site = Command()._compile(load_config())
    assert not any(plan.debug for plan in site.plans)


def test_clients_and_the_django_view_keep_their_own_debug(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    with TestClient(api, debug=True) as loud, TestClient(api, debug=False) as quiet:
        assert _is_debug_answer(loud.get("/boom"))
        assert quiet.get("/boom").json() == {"detail": "Internal Server Error"}
        # A 500 is reported through got_request_exception, which Django's test client
        # turns into a raise unless told otherwise (as for any Django view).
        with pytest.raises(RuntimeError, match="secret internals"):
            Client().get("/boom")
        django_client = Client(raise_request_exception=False)
        view = django_client.get("/boom")
        assert view.status_code == 500 and not _is_debug_answer(view)
        settings.DEBUG = True  # the Django view follows settings per request
        answer = django_client.get("/boom", headers={"Accept": "application/json"})
        assert _is_debug_answer(answer)
        assert quiet.get("/boom").json() == {"detail": "Internal Server Error"}


def test_the_django_view_does_not_drop_a_clients_middleware_chain(settings):
    settings.ROOT_URLCONF = __name__
    with TestClient(api) as client:
        assert client.get("/fine").headers["x-content-type-options"] == "nosniff"
        assert Client().get("/fine").status_code == 200
        # Still wrapped in SecurityMiddleware after the view compiled its own copy.
        assert client.get("/fine").headers["x-content-type-options"] == "nosniff"


def test_a_compiled_site_refuses_a_debug_override():
    from django_bolt.server.site import Site

    with pytest.raises(TypeError, match="debug="):
        TestClient(Site([("", api)]), debug=True)


@pytest.mark.django_db
def test_django_view_evaluates_an_async_handlers_queryset_outside_the_loop(settings):
    """Under runserver or WSGI an async handler may return a lazy QuerySet for a declared
    serializer: it is rendered in the request's thread, not inside the event loop."""
    from django.contrib.auth.models import Group

    class GroupOut(ModelSerializer):
        class Meta:
            model = Group
            fields = ["id", "name"]

    orm_api = BoltAPI(openapi_url=None)

    @orm_api.get("/groups", response_model=list[GroupOut])
    async def groups():
        return Group.objects.order_by("name")

    class URLConf:
        urlpatterns = [path("", orm_api.urls)]

    Group.objects.create(name="b")
    Group.objects.create(name="a")
    settings.ROOT_URLCONF = URLConf
    response = Client().get("/groups")
    assert response.status_code == 200
    assert [g["name"] for g in response.json()] == ["a", "b"]
