"""Routes of the operator's gateway server pages (under /operator/servers/)."""

from django.urls import path

from instances import operator_views

app_name = "servers"
urlpatterns = [
    path("", operator_views.server_list, name="list"),
    path("new/", operator_views.server_create, name="create"),
    path("<uuid:server_id>/", operator_views.server_edit, name="edit"),
    path("<uuid:server_id>/toggle/", operator_views.server_toggle, name="toggle"),
    path("<uuid:server_id>/test/", operator_views.server_test, name="test"),
]
