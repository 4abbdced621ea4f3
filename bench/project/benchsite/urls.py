# The API is found by auto-discovery (benchsite/api.py), as both django_bolt packages do it.
from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
