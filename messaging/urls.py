from django.urls import path

from messaging import views

app_name = "messaging"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("summary/", views.inbox_summary, name="summary"),
    path("quick-replies/", views.quick_reply_list, name="quick_replies"),
    path("quick-replies/<uuid:quick_reply_id>/", views.quick_reply_update, name="quick_reply_update"),
    path("quick-replies/<uuid:quick_reply_id>/delete/", views.quick_reply_delete, name="quick_reply_delete"),
    path("<uuid:conversation_id>/", views.conversation_detail, name="conversation"),
    path("<uuid:conversation_id>/send/", views.message_create, name="send"),
    path("<uuid:conversation_id>/read/", views.conversation_read, name="read"),
    path("<uuid:conversation_id>/assign/", views.conversation_assign, name="assign"),
    path("<uuid:conversation_id>/status/", views.conversation_status, name="status"),
    path("<uuid:conversation_id>/priority/", views.conversation_priority, name="priority"),
    path("<uuid:conversation_id>/bot/", views.contact_bot, name="bot"),
    path("<uuid:conversation_id>/tags/", views.contact_tags, name="tags"),
    path("messages/<uuid:message_id>/retry/", views.message_retry, name="retry"),
    path("messages/<uuid:message_id>/delete/", views.message_delete, name="delete"),
    path("messages/<uuid:message_id>/media/", views.message_media, name="media"),
]
