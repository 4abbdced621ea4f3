"""Revoked tokens (``DjangoORMRevocation``) in the Django admin: who can see them, when
they expire, and a purge of the rows whose tokens have expired anyway."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.utils import timezone

from ...models import RevokedToken


class ExpiredFilter(admin.SimpleListFilter):
    title = "token expired"
    parameter_name = "expired"

    def lookups(self, request: Any, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: Any, queryset: Any) -> Any:
        now = timezone.now()
        if self.value() == "yes":
            return queryset.filter(expires_at__lte=now)
        if self.value() == "no":
            return queryset.filter(expires_at__gt=now)
        return queryset


@admin.action(description="Purge the selected revocations whose tokens have expired")
def purge_expired(model_admin: Any, request: Any, queryset: Any) -> None:
    """A revocation only matters until its token expires: the row can go after that."""
    deleted, _ = queryset.filter(expires_at__lte=timezone.now()).delete()
    model_admin.message_user(
        request,
        f"Purged {deleted} expired revocation{'s' if deleted != 1 else ''}.",
        messages.SUCCESS,
    )


class RevokedTokenAdmin(admin.ModelAdmin):
    list_display = ("jti", "expires_at", "revoked_at", "is_expired")
    list_filter = (ExpiredFilter,)
    search_fields = ("jti",)
    ordering = ("-revoked_at",)
    readonly_fields = ("revoked_at",)
    actions = (purge_expired,)

    @admin.display(boolean=True, description="expired")
    def is_expired(self, obj: RevokedToken) -> bool:
        return obj.expires_at <= timezone.now()


def register(site: admin.AdminSite) -> None:
    if not site.is_registered(RevokedToken):
        site.register(RevokedToken, RevokedTokenAdmin)
