"""Routes of the tenants app: accounts, invitations, company pages and the operator area."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from tenants import account_views, member_views, operator_views, views

account_patterns = [
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", account_views.profile, name="profile"),
    # Password change and reset (Django's views, our templates in templates/registration/).
    path("", include("django.contrib.auth.urls")),
]

company_patterns = [
    path("", views.overview, name="company_overview"),
    path("settings/", views.settings_hub, name="company_settings"),
    path("settings/members/", member_views.member_list, name="members"),
    path("settings/availability/", member_views.availability, name="availability"),
    path("settings/members/invite/", member_views.invitation_create, name="invitation_create"),
    path("settings/members/<uuid:membership_id>/role/", member_views.membership_role, name="membership_role"),
    path("settings/members/<uuid:membership_id>/remove/", member_views.membership_remove, name="membership_remove"),
    path("settings/invitations/<uuid:invitation_id>/revoke/", member_views.invitation_revoke,
         name="invitation_revoke"),
    path("settings/api-keys/", member_views.api_key_list, name="api_keys"),
    path("settings/api-keys/<uuid:api_key_id>/revoke/", member_views.api_key_revoke, name="api_key_revoke"),
]

operator_patterns = (
    [
        path("", operator_views.company_list, name="companies"),
        path("companies/new/", operator_views.company_create, name="company_create"),
        path("companies/<uuid:company_id>/", operator_views.company_edit, name="company_edit"),
        path("companies/<uuid:company_id>/suspend/", operator_views.company_suspend, name="company_suspend"),
        path("companies/<uuid:company_id>/reactivate/", operator_views.company_reactivate,
             name="company_reactivate"),
        path("companies/<uuid:company_id>/owner/", operator_views.company_owner_create, name="company_owner_create"),
    ],
    "operator",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("invite/<str:token>/", account_views.invitation_accept, name="invitation_accept"),
    path("c/<slug:company_slug>/", include(company_patterns)),
    path("accounts/", include(account_patterns)),
    path("operator/", include(operator_patterns)),
]
