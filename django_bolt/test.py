"""Django ``TestCase``-style API tests::

from django_bolt.test import AsyncAPITestClient
"""

from .testing.client import AsyncTestClient
from .testing.testcase import APIResponse, AsyncAPITestClient

__all__ = ["AsyncAPITestClient", "APIResponse", "AsyncTestClient"]
