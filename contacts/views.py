"""Contact and tag pages."""

from django.http import HttpResponse
from django.shortcuts import render

from tenants.access import CompanyRequest, company_member


@company_member()
def contact_list(request: CompanyRequest) -> HttpResponse:
    return render(request, "contacts/list.html", {"company": request.company, "contacts": []})


@company_member()
def tag_list(request: CompanyRequest) -> HttpResponse:
    return render(request, "contacts/tags.html", {"company": request.company, "tags": []})
