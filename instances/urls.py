from django.urls import path

from instances import views

app_name = "instances"
urlpatterns = [
    path("", views.instance_list, name="list"),
    path("new/", views.instance_create, name="create"),
    path("<uuid:instance_id>/", views.instance_detail, name="detail"),
    path("<uuid:instance_id>/connect/", views.instance_connect, name="connect"),
    path("<uuid:instance_id>/restart/", views.instance_restart, name="restart"),
    path("<uuid:instance_id>/logout/", views.instance_logout, name="logout"),
    path("<uuid:instance_id>/rename/", views.instance_rename, name="rename"),
    path("<uuid:instance_id>/settings/", views.instance_settings, name="settings"),
    path("<uuid:instance_id>/delete/", views.instance_delete, name="delete"),
]
