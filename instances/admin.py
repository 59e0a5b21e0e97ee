"""Django admin (staff): read-only views of instances, their timeline and raw inbound events.

Changes go through the services (pages, API, /operator/servers/) so the gateway and the database agree.
"""

from django.contrib import admin

from instances.models import GatewayServer, InboundEvent, Instance, InstanceStateChange
from tenants.admin import CrossCompanyAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GatewayServer)
class GatewayServerAdmin(ReadOnlyAdmin):
    list_display = ["name", "base_url", "version", "capacity", "enabled", "last_check_ok", "last_check_at"]
    exclude = ["api_key", "hook_secret", "hook_secret_hash"]


class ReadOnlyCrossCompanyAdmin(ReadOnlyAdmin, CrossCompanyAdmin):
    """Tenant rows of every company, shown to staff but never edited from the admin."""


@admin.register(Instance)
class InstanceAdmin(ReadOnlyCrossCompanyAdmin):
    list_display = ["name", "company", "server", "state", "phone_number", "state_changed_at", "last_polled_at"]
    list_filter = ["state", "server", "company"]
    search_fields = ["name", "gateway_name", "phone_number"]
    exclude = ["token", "webhook_secret_hash", "qr_data_url", "qr_code"]


@admin.register(InstanceStateChange)
class InstanceStateChangeAdmin(ReadOnlyCrossCompanyAdmin):
    list_display = ["instance", "company", "from_state", "to_state", "reason", "source", "at"]
    list_filter = ["source", "to_state"]


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyCrossCompanyAdmin):
    list_display = ["event", "instance", "company", "status", "received_at", "processed_at"]
    list_filter = ["status", "event"]
