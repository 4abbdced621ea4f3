from django.urls import include, re_path
from testproject.api import api

urlpatterns = [
    re_path(r"^v1/", include(api.urls[0])),
    re_path(r"^v(?P<version>[0-9])/", include(api.urls[0])),
]
