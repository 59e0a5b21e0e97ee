"""Bot platform pages under /c/<slug>/instances/<id>/platforms/ (the log, secret and test live on the
endpoint pages of integrations.urls, which open a platform's endpoint too)."""

from django.urls import path

from integrations import views

app_name = "platforms"
urlpatterns = [
    path("", views.platform_create, name="create"),
    path("<slug:slug>/starting/", views.platform_starting, name="starting"),
]
