"""Company settings pages about people and keys: members, invitations, API keys."""

from django.http import HttpResponse
from django.shortcuts import render

from tenants.access import CompanyRequest, company_member
from tenants.selectors import api_key_list as select_api_keys
from tenants.selectors import invitation_list_pending, membership_list


@company_member()
def member_list(request: CompanyRequest) -> HttpResponse:
    return render(request, "tenants/members.html", {
        "company": request.company,
        "memberships": membership_list(company=request.company),
        "invitations": invitation_list_pending(company=request.company),
        "can_manage": request.membership.has_role("admin"),
    })


@company_member(role="admin")
def api_key_list(request: CompanyRequest) -> HttpResponse:
    return render(request, "tenants/api_keys.html", {
        "company": request.company, "api_keys": select_api_keys(company=request.company),
    })
