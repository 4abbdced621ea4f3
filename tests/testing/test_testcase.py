"""The TestCase style of the reference documentation, running as written."""

import pytest
from django.contrib.auth import get_user_model

from django_bolt.test import AsyncAPITestClient

User = get_user_model()


@pytest.mark.orm
class UserAPITest(AsyncAPITestClient):
    async def test_create_user(self):
        response = await self.post(
            "/api/accounts", json={"username": "testuser", "email": "test@example.com"}
        )
        self.assertEqual(response.status_code, 201)
        data = await response.json()
        self.assertEqual(data["username"], "testuser")

    async def test_get_user(self):
        user = await User.objects.acreate(username="testuser", email="test@example.com")
        response = await self.get(f"/api/accounts/{user.id}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual((await response.json())["username"], "testuser")
        self.assertEqual(response.json()["id"], user.id)

    async def test_missing_user_is_404(self):
        response = await self.get("/api/accounts/424242")
        self.assertEqual(response.status_code, 404)
