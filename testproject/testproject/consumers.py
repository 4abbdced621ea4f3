"""A Django Channels consumer: served by runbolt for paths no @api.websocket owns."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class NotesConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        if self.scope["url_route"]["kwargs"]["board"] == "private":
            await self.close()  # refused before accept: HTTP 403
            return
        await self.accept()
        user = self.scope.get("user")
        await self.send_json(
            {
                "board": self.scope["url_route"]["kwargs"]["board"],
                "user": getattr(user, "username", None) or None,
                "query": self.scope["query_string"].decode(),
            }
        )

    async def receive_json(self, content, **kwargs):
        if content.get("bye"):
            await self.close(code=4002)
            return
        await self.send_json({"echo": content})
