"""Testing: in-process clients that run the real Rust pipeline without a socket, and a
real ``runbolt`` subprocess on a free port.

    from django_bolt.testing import TestClient

    with TestClient(api) as client:
        assert client.get("/hello").json() == {"message": "hi"}
"""

from .client import AsyncTestClient, TestClient
from .process import BoltProcess, free_port, run_bolt
from .websocket import WebSocketRejected, WebSocketSession

__all__ = [
    "TestClient",
    "AsyncTestClient",
    "BoltProcess",
    "WebSocketRejected",
    "WebSocketSession",
    "free_port",
    "run_bolt",
]
