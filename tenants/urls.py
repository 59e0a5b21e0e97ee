"""Routes of the tenants app: accounts, company pages and the operator area."""

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
    path("settings/api-keys/", member_views.api_key_list, name="api_keys"),
]

operator_patterns = (
    [
        path("", operator_views.company_list, name="companies"),
    ],
    "operator",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:company_slug>/", include(company_patterns)),
    path("accounts/", include(account_patterns)),
    path("operator/", include(operator_patterns)),
]
