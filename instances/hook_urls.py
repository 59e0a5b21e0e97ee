"""Routes of the inbound gateway webhooks (no session, no CSRF: the secret in the URL is the credential)."""

from django.urls import path

from instances import hooks

app_name = "hooks"
urlpatterns = [
    path("server/<str:secret>/", hooks.server_hook, name="server"),
    path("server/<str:secret>/<str:event_name>", hooks.server_hook, name="server_event"),
    path("<str:secret>/", hooks.instance_hook, name="instance"),
    path("<str:secret>/<str:event_name>", hooks.instance_hook, name="instance_event"),
]
