"""An instance's automatic replies, /c/<slug>/instances/<id>/automatic-replies/ (messaging/auto_replies.py)."""

from django.urls import path

from messaging import views

app_name = "auto_replies"
urlpatterns = [
    path("", views.auto_reply_edit, name="edit"),
]
