"""ASGI entry point: HTTP through Django, each request in one hand-off to a worker thread (config/handler.py;
gateway hooks by a shorter path, instances/hooks.py), WebSockets through Channels with session auth and origin
checks."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)  # before importing anything that touches models

from config.handler import OneHopASGIHandler  # noqa: E402

django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import integrator_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402
from instances.hooks import HookFastPath  # noqa: E402

browser_sockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
# The integrators' stream authenticates by API key (never a cookie): no origin check, no session.
integrator_sockets = URLRouter(integrator_websocket_urlpatterns)


async def websockets(scope, receive, send):
    sockets = integrator_sockets if scope["path"].rstrip("/") == "/ws/events" else browser_sockets
    return await sockets(scope, receive, send)


application = ProtocolTypeRouter(
    {
        # Gateway events (the instance hook's POSTs) skip the middleware stack: see instances/hooks.py.
        "http": HookFastPath(django_asgi_app),
        "websocket": websockets,
    }
)
