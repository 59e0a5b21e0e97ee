"""Settings pages of outgoing webhooks: /c/<slug>/settings/webhooks/ (owners and admins)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from instances.models import Instance
from integrations import bots, selectors, services
from integrations.forms import BotPlatformForm, WebhookEndpointForm
from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.access import CompanyRequest, company_member
from tenants.forms import add_errors
from tenants.models import Role
from tenants.once import form_once_claim


def _endpoint_or_404(request: CompanyRequest, endpoint_id) -> WebhookEndpoint:
    endpoint = selectors.endpoint_get(company=request.company, public_id=endpoint_id, kinds=tuple(WebhookEndpoint.Kind))
    if endpoint is None:
        raise Http404(_("Page not found"))
    return endpoint


def _secret_page(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)  # pages that may hold a secret stay out of caches
    return response


def _apply(form: WebhookEndpointForm, call) -> object | None:
    """Run a service with the form's data; its validation errors land on the form."""
    try:
        return call(**form.cleaned_data)
    except ValidationError as error:
        form.add_error(None, error)
        return None


@company_member(role=Role.ADMIN)
def webhook_list(request: CompanyRequest) -> HttpResponse:
    """The endpoints and a form to add one; a new endpoint's secret appears once, in the POST's response."""
    form = WebhookEndpointForm(request.POST or None, initial={"is_active": True})
    issued = None
    if request.method == "POST" and form.is_valid() and not form_once_claim(request):
        messages.info(request, _("That form had already been sent: the endpoint was created then, and its secret "
                                 "shown once. Rotate its secret if you did not copy it."))
        return redirect("integrations:list", request.company.slug)
    if request.method == "POST" and form.is_valid():
        issued = _apply(form, lambda **data: services.endpoint_create(company=request.company, **data))
        if issued is not None:
            form = WebhookEndpointForm(initial={"is_active": True})
    return _secret_page(render(request, "integrations/webhooks.html", {
        "company": request.company, "endpoints": selectors.endpoint_list(company=request.company),
        "form": form, "issued": issued, "retention_days": settings.WEBHOOK_EVENT_RETENTION_DAYS,
    }, status=400 if form.errors else 200))


# While a delivery queued moments ago (a test event, a replay) waits for its first attempt, the log refreshes
# every couple of seconds, so "Send test event" shows its outcome without a 30 s wait or a reload.
FIRST_ATTEMPT_WATCH = timedelta(minutes=2)


def _deliveries_context(company, endpoint: WebhookEndpoint) -> dict:
    deliveries = list(selectors.delivery_list(company=company, endpoint=endpoint)[:selectors.DELIVERY_LOG_LIMIT])
    since = timezone.now() - FIRST_ATTEMPT_WATCH
    awaiting = any(delivery.status == WebhookDelivery.Status.PENDING and not delivery.attempts
                   and delivery.created_at >= since for delivery in deliveries)
    return {"deliveries": deliveries, "refresh_every": "2s" if awaiting else "30s"}


def _detail(request: CompanyRequest, endpoint: WebhookEndpoint, form=None, issued=None,
            rotated: bool = False) -> HttpResponse:
    form = form or WebhookEndpointForm(initial={
        "url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
        "is_active": endpoint.is_active,
    })
    if endpoint.kind == WebhookEndpoint.Kind.PLATFORM:
        form.fields.pop("event_types", None)  # a platform gets its contacts' messages and bot events, no choice
    return _secret_page(render(request, "integrations/endpoint.html", {
        "company": request.company, "endpoint": endpoint, "form": form, "issued": issued, "rotated": rotated,
        **_deliveries_context(request.company, endpoint), "retention_days": settings.WEBHOOK_EVENT_RETENTION_DAYS,
    }, status=400 if form.errors else 200))


@company_member(role=Role.ADMIN)
def webhook_detail(request: CompanyRequest, endpoint_id) -> HttpResponse:
    """Edit an endpoint (URL, description, events, active) and read its delivery log."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method != "POST":
        return _detail(request, endpoint)
    form = WebhookEndpointForm(request.POST)
    if form.is_valid() and _apply(form, lambda **data: services.endpoint_update(
            company=request.company, endpoint=endpoint, **data)) is not None:
        messages.success(request, _("Webhook endpoint saved."))
        return redirect("integrations:detail", request.company.slug, endpoint.public_id)
    return _detail(request, endpoint, form=form)


@company_member(role=Role.ADMIN)
def webhook_deliveries(request: CompanyRequest, endpoint_id) -> HttpResponse:
    """The delivery log alone (htmx refresh)."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    return render(request, "integrations/endpoint.html#deliveries", {
        "company": request.company, "endpoint": endpoint, **_deliveries_context(request.company, endpoint),
        "retention_days": settings.WEBHOOK_EVENT_RETENTION_DAYS,
    })


@company_member(role=Role.ADMIN)
@require_POST
def webhook_rotate(request: CompanyRequest, endpoint_id) -> HttpResponse:
    """A new secret, shown once; the old one keeps signing for 24 hours."""
    endpoint = _endpoint_or_404(request, endpoint_id)
    issued = services.endpoint_rotate_secret(company=request.company, endpoint=endpoint)
    return _detail(request, issued.endpoint, issued=issued, rotated=True)


@company_member(role=Role.ADMIN)
@require_POST
def webhook_test(request: CompanyRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    try:
        services.endpoint_send_test(company=request.company, endpoint=endpoint)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Test event queued: it appears in the log below."))
    return redirect("integrations:detail", request.company.slug, endpoint.public_id)


@company_member(role=Role.ADMIN)
@require_POST
def delivery_replay(request: CompanyRequest, endpoint_id, delivery_id) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    delivery = selectors.delivery_get(company=request.company, endpoint=endpoint, public_id=delivery_id)
    if delivery is None:
        raise Http404(_("Page not found"))
    try:
        services.delivery_replay(company=request.company, delivery=delivery)
    except services.DeliveryBeingSent as error:
        messages.error(request, error.message)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Delivery queued again."))
    return redirect("integrations:detail", request.company.slug, endpoint.public_id)


@company_member(role=Role.ADMIN)
def webhook_delete(request: CompanyRequest, endpoint_id) -> HttpResponse:
    endpoint = _endpoint_or_404(request, endpoint_id)
    if request.method == "POST":
        if endpoint.kind == WebhookEndpoint.Kind.PLATFORM:
            instance = endpoint.platform.instance
            bots.platform_delete(company=request.company, platform=endpoint.platform)
            messages.success(request, _("Bot platform deleted."))
            return redirect("instances:detail", request.company.slug, instance.public_id)
        services.endpoint_delete(company=request.company, endpoint=endpoint)
        messages.success(request, _("Webhook endpoint deleted."))
        return redirect("integrations:list", request.company.slug)
    return render(request, "integrations/endpoint_delete.html", {"company": request.company, "endpoint": endpoint})


# --- bot platforms (the instance page lists them; each one's log and secret are on its endpoint page) ----

def _instance_or_404(request: CompanyRequest, instance_id) -> Instance:
    instance = Instance.objects.filter(company=request.company, public_id=instance_id).first()
    if instance is None:
        raise Http404(_("Page not found"))
    return instance


@company_member(role=Role.ADMIN)
@require_POST
def platform_create(request: CompanyRequest, instance_id) -> HttpResponse:
    """Add a platform; its secret is shown once, on its endpoint page."""
    instance = _instance_or_404(request, instance_id)
    form = BotPlatformForm(request.POST)
    issued = None
    if form.is_valid() and not form_once_claim(request):
        messages.info(request, _("That form had already been sent: the platform was created then, and its secret "
                                 "shown once. Rotate its secret if you did not copy it."))
        return redirect("instances:detail", request.company.slug, instance.public_id)
    if form.is_valid():
        data = form.cleaned_data
        try:
            issued = bots.platform_create(company=request.company, instance=instance, slug=data["slug"],
                                          callback_url=data["callback_url"], make_starting=data["is_starting"])
        except ValidationError as error:
            add_errors(form, error)
    if issued is None:
        from instances.views import instance_detail_page

        return instance_detail_page(request, instance, platform_form=form, status=400)
    endpoint = issued.platform.endpoint
    return _detail(request, endpoint, issued=services.IssuedEndpoint(endpoint=endpoint, secret=issued.secret))


@company_member(role=Role.ADMIN)
@require_POST
def platform_starting(request: CompanyRequest, instance_id, slug: str) -> HttpResponse:
    """Make this platform the starting one ("1"), or leave the instance without one ("0")."""
    instance = _instance_or_404(request, instance_id)
    if bots.platform_get(company=request.company, instance=instance, slug=slug) is None:
        raise Http404(_("Page not found"))
    bots.instance_set_starting_platform(company=request.company, instance=instance,
                                        slug=slug if request.POST.get("starting") == "1" else "")
    messages.success(request, _("Starting platform saved."))
    return redirect("instances:detail", request.company.slug, instance.public_id)
