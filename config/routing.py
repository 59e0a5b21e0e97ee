"""WebSocket routes."""

from django.urls import path

from tenants.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/", DashboardConsumer.as_asgi()),
]
