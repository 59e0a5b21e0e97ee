"""Django admin for staff: tenant rows are listed across companies, with the company column visible."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from tenants.models import ApiKey, Company, Invitation, Membership, User


class CrossCompanyAdmin(admin.ModelAdmin):
    """Admin of a TenantOwned model: staff see every company's rows, so it reads through all_companies."""

    list_select_related = ["company"]

    def get_queryset(self, request):
        # all_companies: the admin is the operators' cross-company tool (STYLE rule 12).
        return self.model.all_companies.select_related("company")


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    fieldsets = (*BaseUserAdmin.fieldsets, ("Recado", {"fields": ("language", "single_key_shortcuts")}))
    list_display = ["username", "email", "is_staff", "is_active", "language"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "max_instances", "max_members", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]


@admin.register(Membership)
class MembershipAdmin(CrossCompanyAdmin):
    list_display = ["user", "company", "role", "created_at"]
    list_filter = ["role", "company"]
    raw_id_fields = ["user", "company"]


@admin.register(Invitation)
class InvitationAdmin(CrossCompanyAdmin):
    list_display = ["email", "company", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["company"]
    exclude = ["token_hash"]


@admin.register(ApiKey)
class ApiKeyAdmin(CrossCompanyAdmin):
    list_display = ["name", "company", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["company"]
    readonly_fields = ["prefix", "last_used_at"]
    exclude = ["secret_hash"]
