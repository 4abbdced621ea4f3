"""Found by Django's admin autodiscovery: django_bolt's models in the default admin site."""

from django.contrib import admin

from .contrib.admin.revoked_tokens import register

register(admin.site)
