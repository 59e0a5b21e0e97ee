"""WebSocket routes."""

from django.urls import path

from integrations.consumers import EventStreamConsumer
from tenants.consumers import DashboardConsumer

# Browsers: session cookie, so behind the origin check (config/asgi.py).
websocket_urlpatterns = [
    path("ws/", DashboardConsumer.as_asgi()),
]
# Integrators: an API key, no cookie, so no cross-site risk and no Origin header required
# (server-side clients send none).
integrator_websocket_urlpatterns = [
    path("ws/events/", EventStreamConsumer.as_asgi()),
]
