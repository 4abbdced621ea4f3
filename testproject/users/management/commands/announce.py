"""``manage.py announce ROOM TEXT``: a message to every chat member, from outside the
server (reaches other processes when BOLT_REDIS_URL is set)."""

from django.core.management.base import BaseCommand
from testproject.api import api


class Command(BaseCommand):
    help = "Sends an announcement to everyone in a chat room."

    def add_arguments(self, parser):
        parser.add_argument("room")
        parser.add_argument("text")

    def handle(self, room, text, **options):
        api.group_send_sync(f"chat.{room}", {"announcement": text, "from": "command"})
        self.stdout.write(f"sent to chat.{room}")
