from django.urls import path

from integrations import views

app_name = "integrations"
urlpatterns = [
    path("", views.webhook_list, name="list"),
    path("<uuid:endpoint_id>/", views.webhook_detail, name="detail"),
    path("<uuid:endpoint_id>/deliveries/", views.webhook_deliveries, name="deliveries"),
    path("<uuid:endpoint_id>/rotate/", views.webhook_rotate, name="rotate"),
    path("<uuid:endpoint_id>/test/", views.webhook_test, name="test"),
    path("<uuid:endpoint_id>/delete/", views.webhook_delete, name="delete"),
    path("<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/replay/", views.delivery_replay, name="replay"),
]
