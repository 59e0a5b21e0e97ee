"""Django admin (staff): read-only views of webhook endpoints and their deliveries."""

from django.contrib import admin

from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.admin import CrossCompanyAdmin


class ReadOnlyCrossCompanyAdmin(CrossCompanyAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyCrossCompanyAdmin):
    list_display = ["url", "company", "is_active", "disabled_at", "last_error", "created_at"]
    list_filter = ["is_active", "company"]
    exclude = ["secret", "previous_secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyCrossCompanyAdmin):
    list_display = ["public_id", "company", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["status", "company"]
