import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testproject.settings")
django_asgi_app = get_asgi_application()

try:
    from channels.auth import AuthMiddlewareStack
    from channels.routing import ProtocolTypeRouter, URLRouter
except ImportError:  # Channels is optional: then Django answers HTTP only
    application = django_asgi_app
else:
    from django.urls import path

    from .consumers import NotesConsumer

    application = ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AuthMiddlewareStack(
                URLRouter([path("channels/notes/<str:board>/", NotesConsumer.as_asgi())])
            ),
        }
    )
