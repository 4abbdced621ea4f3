"""Database tables django_bolt needs: only revoked tokens for ``DjangoORMRevocation``."""

from django.db import models


class RevokedToken(models.Model):
    jti = models.CharField(max_length=255, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "django_bolt"
        verbose_name = "revoked token"

    def __str__(self) -> str:
        return self.jti
