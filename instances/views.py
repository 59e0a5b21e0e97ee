"""Instance pages (WhatsApp numbers)."""

from django.http import HttpResponse
from django.shortcuts import render

from tenants.access import CompanyRequest, company_member


@company_member()
def instance_list(request: CompanyRequest) -> HttpResponse:
    return render(request, "instances/list.html", {"company": request.company, "instances": []})
