"""WebSockets: the connection handlers receive, groups, the hand-off of unrouted sockets
to the project's ASGI application."""

from .connection import WebSocket, WebSocketDisconnect, WebSocketState
from .groups import GroupError

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketState", "GroupError"]
