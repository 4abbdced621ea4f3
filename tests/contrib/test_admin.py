"""django_bolt's own models in the Django admin: revoked tokens, with a purge of the
revocations whose tokens have expired."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from django_bolt.models import RevokedToken

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_bolt/revokedtoken/"


def _revoke(jti: str, expires_in: datetime.timedelta) -> None:
    RevokedToken.objects.create(jti=jti, expires_at=timezone.now() + expires_in)


def test_revoked_tokens_are_listed_with_their_expiry(admin_client) -> None:
    _revoke("live-token", datetime.timedelta(hours=1))
    _revoke("dead-token", -datetime.timedelta(hours=1))
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert "live-token" in page and "dead-token" in page
    expired_only = admin_client.get(CHANGELIST, {"expired": "yes"}).content.decode()
    assert "dead-token" in expired_only and "live-token" not in expired_only


def test_purge_deletes_only_expired_revocations(admin_client) -> None:
    _revoke("live-token", datetime.timedelta(hours=1))
    _revoke("dead-1", -datetime.timedelta(minutes=1))
    _revoke("dead-2", -datetime.timedelta(days=3))
    response = admin_client.post(
        CHANGELIST,
        {
            "action": "purge_expired",
            "_selected_action": ["live-token", "dead-1", "dead-2"],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Purged 2 expired revocations." in response.content.decode()
    assert list(RevokedToken.objects.values_list("jti", flat=True)) == ["live-token"]


def test_a_user_without_permission_cannot_see_revocations(client, django_user_model) -> None:
    django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True)
    client.login(username="staff", password="pw-staff-123")
    assert client.get(CHANGELIST).status_code == 403
