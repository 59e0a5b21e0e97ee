"""Instance pages: list, create, detail with the live QR, lifecycle buttons (STYLE rules 15-17)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from instances import selectors, services
from instances.errors import GatewayUnavailable, InstanceError, InstanceSettingsInvalid, PhoneNumberInvalid
from instances.forms import InstanceCreateForm, InstanceRenameForm, InstanceSettingsForm, PairingCodeForm
from instances.models import Instance
from tenants.access import CompanyRequest, company_member
from tenants.models import Role


def _instance_or_404(request: CompanyRequest, instance_id) -> Instance:
    instance = selectors.instance_get(company=request.company, public_id=instance_id)
    if instance is None:
        raise Http404
    return instance


def _list_page(request: CompanyRequest, form: InstanceCreateForm | None = None, status: int = 200) -> HttpResponse:
    company = request.company
    can_manage = request.membership.has_role(Role.ADMIN)
    return render(request, "instances/list.html", {
        "company": company, "instances": selectors.instance_list(company=company), "can_manage": can_manage,
        "form": (form or InstanceCreateForm()) if can_manage else None,
        "count": selectors.instance_count(company=company),
    }, status=status)


@company_member()
def instance_list(request: CompanyRequest) -> HttpResponse:
    if request.GET.get("fragment") == "nav-badge":
        attention = selectors.instance_attention_count(company=request.company)
        return render(request, "instances/list.html#nav-badge", {"company": request.company, "attention": attention})
    if request.GET.get("fragment") == "cards":
        return render(request, "instances/list.html#instance-cards",
                      {"company": request.company, "instances": selectors.instance_list(company=request.company)})
    return _list_page(request)


@company_member(role=Role.ADMIN)
@require_POST
def instance_create(request: CompanyRequest) -> HttpResponse:
    form = InstanceCreateForm(request.POST)
    if not form.is_valid():
        return _list_page(request, form, status=400)
    try:
        instance = services.instance_create(company=request.company, **form.cleaned_data)
    except InstanceError as error:
        form.add_error("name", error.message)
        return _list_page(request, form, status=400)
    return redirect("instances:detail", request.company.slug, instance.public_id)


def _live_context(request: CompanyRequest, instance: Instance) -> dict:
    return {"company": request.company, "instance": instance,
            "timeline": selectors.instance_timeline(company=request.company, instance=instance)}


@company_member()
def instance_detail(request: CompanyRequest, instance_id) -> HttpResponse:
    instance = _instance_or_404(request, instance_id)
    if request.GET.get("fragment") == "live":
        return render(request, "instances/detail.html#instance-live", _live_context(request, instance))
    return instance_detail_page(request, instance)


def instance_detail_page(request: CompanyRequest, instance: Instance, platform_form=None, pairing_form=None,
                         status: int = 200, settings_form=None) -> HttpResponse:
    """The instance page; admins also see its bot platforms and the form to add one."""
    from integrations import bots
    from integrations.forms import BotPlatformForm

    can_manage = request.membership.has_role(Role.ADMIN)
    return render(request, "instances/detail.html", {
        **_live_context(request, instance), "can_manage": can_manage,
        "rename_form": InstanceRenameForm(initial={"label": instance.label}),
        "pairing_form": pairing_form or PairingCodeForm(),
        "settings_form": settings_form or _settings_form(instance),
        "platforms": bots.platform_list(company=request.company, instance=instance) if can_manage else [],
        "platform_form": platform_form or BotPlatformForm(),
    }, status=status)


@company_member(role=Role.ADMIN)
@require_POST
def instance_connect(request: CompanyRequest, instance_id) -> HttpResponse:
    instance = _instance_or_404(request, instance_id)
    # The QR button posts no number; the pairing form posts one, which must be a number.
    form = PairingCodeForm(request.POST)
    number = form.cleaned_data["number"] if form.is_valid() else None
    if "number" in request.POST and number is None:
        return instance_detail_page(request, instance, pairing_form=form, status=400)
    try:
        instance = services.instance_connect_start(company=request.company, instance=instance, number=number)
    except PhoneNumberInvalid as error:  # refused before the connection was touched
        form.add_error("number", error.message)
        return instance_detail_page(request, instance, pairing_form=form, status=400)
    if request.htmx:
        return render(request, "instances/detail.html#instance-live", _live_context(request, instance))
    return redirect("instances:detail", request.company.slug, instance.public_id)


def _lifecycle_action(request: CompanyRequest, instance_id, service, done: str) -> HttpResponse:
    instance = _instance_or_404(request, instance_id)
    try:
        service(company=request.company, instance=instance)
    except InstanceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)
    return redirect("instances:detail", request.company.slug, instance.public_id)


@company_member(role=Role.ADMIN)
@require_POST
def instance_restart(request: CompanyRequest, instance_id) -> HttpResponse:
    return _lifecycle_action(request, instance_id, services.instance_restart, _("Restart requested."))


@company_member(role=Role.ADMIN)
@require_POST
def instance_logout(request: CompanyRequest, instance_id) -> HttpResponse:
    return _lifecycle_action(request, instance_id, services.instance_logout, _("WhatsApp disconnected."))


@company_member(role=Role.ADMIN)
@require_POST
def instance_rename(request: CompanyRequest, instance_id) -> HttpResponse:
    instance = _instance_or_404(request, instance_id)
    form = InstanceRenameForm(request.POST)
    if form.is_valid():
        services.instance_rename(company=request.company, instance=instance, label=form.cleaned_data["label"])
    return redirect("instances:detail", request.company.slug, instance.public_id)


def _settings_form(instance: Instance) -> InstanceSettingsForm:
    return InstanceSettingsForm(initial={name: getattr(instance, name) for name in services.SETTING_FIELDS})


@company_member(role=Role.ADMIN)
@require_POST
def instance_settings(request: CompanyRequest, instance_id) -> HttpResponse:
    """Save the number's WhatsApp settings; htmx gets the section back, with its errors or a confirmation."""
    instance = _instance_or_404(request, instance_id)
    form, status, saved = InstanceSettingsForm(request.POST), 400, False
    if form.is_valid():
        try:
            instance = services.instance_settings_update(company=request.company, instance=instance,
                                                         **form.cleaned_data)
        except InstanceSettingsInvalid as error:
            form.add_error(error.field, error.message)
        except InstanceError as error:  # the gateway refused or did not answer: nothing changed
            form.add_error(None, error.message)
            status = 503 if isinstance(error, GatewayUnavailable) else 422
        else:
            form, status, saved = _settings_form(instance), 200, True
    if not request.htmx:
        if saved:
            messages.success(request, _("WhatsApp settings saved."))
            return redirect("instances:detail", request.company.slug, instance.public_id)
        return instance_detail_page(request, instance, settings_form=form, status=status)
    context = {"company": request.company, "instance": instance, "settings_form": form, "settings_saved": saved}
    return render(request, "instances/detail.html#instance-settings", context, status=status)


@company_member(role=Role.ADMIN)
@require_http_methods(["GET", "POST"])
def instance_delete(request: CompanyRequest, instance_id) -> HttpResponse:
    instance = _instance_or_404(request, instance_id)
    error, status = None, 200
    if request.method == "POST":
        try:
            services.instance_delete(company=request.company, instance=instance)
        except InstanceError as exc:
            error, status = exc.message, 503 if isinstance(exc, GatewayUnavailable) else 422
        else:
            return redirect("instances:list", request.company.slug)
    context = {"company": request.company, "instance": instance, "error": error,
               "impact": selectors.instance_deletion_impact(company=request.company, instance=instance)}
    return render(request, "instances/delete.html", context, status=status)
