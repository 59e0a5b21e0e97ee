from django.urls import path

from contacts import views

app_name = "contacts"
urlpatterns = [
    path("", views.contact_list, name="list"),
    path("new/", views.contact_create, name="create"),
    path("bulk-tag/", views.contact_bulk_tag, name="bulk_tag"),
    path("export.csv", views.contact_export, name="export"),
    path("open-conversation/", views.open_conversation, name="open_conversation"),
    path("import/", views.import_upload, name="import"),
    path("import/<uuid:import_id>/", views.import_detail, name="import_detail"),
    path("import/<uuid:import_id>/rejected.csv", views.import_rejected, name="import_rejected"),
    path("tags/", views.tag_list, name="tags"),
    path("tags/<uuid:tag_id>/", views.tag_update, name="tag_update"),
    path("tags/<uuid:tag_id>/delete/", views.tag_delete, name="tag_delete"),
    path("<uuid:contact_id>/", views.contact_detail, name="detail"),
    path("<uuid:contact_id>/merge/", views.contact_merge, name="merge"),
    path("<uuid:contact_id>/delete/", views.contact_delete, name="delete"),
    path("<uuid:contact_id>/identifiers/", views.contact_identifier_add, name="identifier_add"),
    path("<uuid:contact_id>/identifiers/<uuid:identifier_id>/remove/", views.contact_identifier_remove,
         name="identifier_remove"),
]
