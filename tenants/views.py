"""Company pages: the landing redirect, the overview and the settings hub."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tenants.access import CompanyRequest, company_member
from tenants.models import Role
from tenants.selectors import user_memberships


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send people where they work: their first active company, the operator area, or a hint."""
    memberships = [m for m in user_memberships(user=request.user) if m.company.is_active]
    if memberships:
        return redirect("company_overview", memberships[0].company.slug)
    if request.user.is_staff:
        return redirect("operator:companies")
    return render(request, "tenants/no_company.html")


@company_member()
def overview(request: CompanyRequest) -> HttpResponse:
    """Where to start: the inbox for everyone; adding numbers, people and integrations for admins only."""
    return render(request, "tenants/overview.html", {
        "company": request.company, "can_manage": request.membership.has_role(Role.ADMIN)})


@company_member()
def settings_hub(request: CompanyRequest) -> HttpResponse:
    """Links to the settings pages; those only admins may open (API keys, webhooks) are shown to admins only."""
    return render(request, "tenants/settings.html", {
        "company": request.company, "can_manage": request.membership.has_role(Role.ADMIN)})
