"""Inbox pages."""

from django.http import HttpResponse
from django.shortcuts import render

from tenants.access import CompanyRequest, company_member


@company_member()
def inbox(request: CompanyRequest) -> HttpResponse:
    return render(request, "messaging/inbox.html", {"company": request.company, "conversations": []})
