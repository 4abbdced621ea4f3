"""WebSocket groups: ``group_send`` / ``group_send_sync`` and ``GroupError``."""

from .websocket.groups import GroupError, group_send, group_send_sync

__all__ = ["GroupError", "group_send", "group_send_sync"]
