"""Django ``TestCase``-style API tests, as in the reference documentation::

    from django_bolt.test import AsyncAPITestClient

    class UserAPITest(AsyncAPITestClient):
        async def test_create_user(self):
            response = await self.post("/api/users", json={"username": "ann"})
            self.assertEqual(response.status_code, 201)
            data = await response.json()

Requests go through the real Rust pipeline and the project's whole URLconf (like
runbolt). Each test runs in its own database state (``TransactionTestCase``, because
handlers run on the server's threads).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.test import TransactionTestCase

from .client import AsyncTestClient


class _AwaitableDict(dict):
    def __await__(self) -> Any:
        return self
        yield  # pragma: no cover


class _AwaitableList(list):
    def __await__(self) -> Any:
        return self
        yield  # pragma: no cover


class _AwaitableValue:
    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # pragma: no cover


class APIResponse:
    """An ``httpx.Response`` whose ``json()`` may also be awaited."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def json(self, **kwargs: Any) -> Any:
        value = self._response.json(**kwargs)
        if isinstance(value, dict):
            return _AwaitableDict(value)
        if isinstance(value, list):
            return _AwaitableList(value)
        return _AwaitableValue(value)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def __repr__(self) -> str:
        return repr(self._response)


class AsyncAPITestClient(TransactionTestCase):
    """A test case with ``await self.get/post/put/patch/delete/head/options(path, ...)``."""

    api: Any = None  # a BoltAPI to serve alone at the root; default: the whole URLconf

    def setUp(self) -> None:
        super().setUp()
        self.client_api = AsyncTestClient(self.api)

    def tearDown(self) -> None:
        async_to_sync(self.client_api.aclose)()
        super().tearDown()

    async def request(self, method: str, path: str, **kwargs: Any) -> APIResponse:
        return APIResponse(await self.client_api.request(method, path, **kwargs))

    async def get(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("DELETE", path, **kwargs)

    async def head(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("HEAD", path, **kwargs)

    async def options(self, path: str, **kwargs: Any) -> APIResponse:
        return await self.request("OPTIONS", path, **kwargs)


__all__ = ["AsyncAPITestClient", "APIResponse"]
