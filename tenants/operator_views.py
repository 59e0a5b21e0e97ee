"""The platform operator's area: staff only, everyone else gets 404."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tenants import selectors, services
from tenants.forms import CompanyForm, CompanyOwnerForm, CompanySuspendForm
from tenants.models import Company


def operator_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff users only; others see a 404, so the area's existence does not leak."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper


def _company_or_404(company_id) -> Company:
    company = selectors.company_get(public_id=company_id)
    if company is None:
        raise Http404
    return company


def _company_page(request: HttpRequest, company: Company, **forms) -> HttpResponse:
    initial = {"name": company.name, "slug": company.slug, "max_instances": company.max_instances,
               "max_members": company.max_members}
    form = forms.get("form") or CompanyForm(initial=initial)
    # Here an empty slug keeps the current one (company_edit): the create form's "derive it from the name" is not so.
    form.fields["slug"].help_text = _("Used in the address of every page: /c/slug/. Changing it changes the address "
                                      "of every page of the company; leave it empty to keep it.")
    return render(request, "tenants/operator/company_edit.html", {
        "company": company, "owners": selectors.company_owner_list(company=company), "form": form,
        "suspend_form": forms.get("suspend_form") or CompanySuspendForm(),
    }, status=400 if any(form.errors for form in forms.values()) else 200)


@operator_only
def company_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tenants/operator/companies.html", {"companies": selectors.company_list_with_counts()})


@operator_only
@require_http_methods(["GET", "POST"])
def company_create(request: HttpRequest) -> HttpResponse:
    form = CompanyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            company = services.company_create(**form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Company %(name)s created. Now create its first owner.")
                             % {"name": company.name})
            return redirect("operator:company_owner_create", company.public_id)
    return render(request, "tenants/operator/company_form.html", {"form": form}, status=400 if form.errors else 200)


@operator_only
@require_http_methods(["GET", "POST"])
def company_edit(request: HttpRequest, company_id) -> HttpResponse:
    company = _company_or_404(company_id)
    if request.method == "GET":
        return _company_page(request, company)
    form = CompanyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.company_update(company=company, name=data["name"], slug=data["slug"] or company.slug,
                                    max_instances=data["max_instances"], max_members=data["max_members"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Company %(name)s saved.") % {"name": company.name})
            return redirect("operator:company_edit", company.public_id)
    return _company_page(request, company, form=form)


@operator_only
@require_POST
def company_suspend(request: HttpRequest, company_id) -> HttpResponse:
    company = _company_or_404(company_id)
    form = CompanySuspendForm(request.POST)
    if not form.is_valid():
        return _company_page(request, company, suspend_form=form)
    services.company_suspend(company=company, reason=form.cleaned_data["reason"])
    messages.success(request, _("%(name)s is suspended: its people cannot log in to it and its API keys get 403.")
                     % {"name": company.name})
    return redirect("operator:company_edit", company.public_id)


@operator_only
@require_POST
def company_reactivate(request: HttpRequest, company_id) -> HttpResponse:
    company = _company_or_404(company_id)
    services.company_reactivate(company=company)
    messages.success(request, _("%(name)s is active again.") % {"name": company.name})
    return redirect("operator:company_edit", company.public_id)


@operator_only
@require_http_methods(["GET", "POST"])
def company_owner_create(request: HttpRequest, company_id) -> HttpResponse:
    company = _company_or_404(company_id)
    form = CompanyOwnerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            membership = services.company_owner_create(company=company, email=data["email"],
                                                       password=data["password1"], username=data["username"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("%(email)s is now an owner of %(company)s.")
                             % {"email": membership.user.email, "company": company.name})
            return redirect("operator:company_edit", company.public_id)
    return render(request, "tenants/operator/owner_form.html", {"company": company, "form": form},
                  status=400 if form.errors else 200)
