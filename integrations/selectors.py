"""Reads of outgoing webhooks, always inside one company (STYLE rule 8)."""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from integrations.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tenants.models import Company
from tenants.prepared import Prepared, columns, model_from
from tenants.scoping import current_company

DELIVERY_LOG_LIMIT = 50


def endpoint_list(*, company: Company) -> QuerySet[WebhookEndpoint]:
    """The company's webhook endpoints (bot platforms' endpoints are listed with their instance)."""
    return WebhookEndpoint.objects.filter(company=company, kind=WebhookEndpoint.Kind.WEBHOOK).order_by("-created_at")


# Read for every inbound batch and every emitted event: prepared (tenants/prepared.py), the current company's.
_ACTIVE_ENDPOINTS = Prepared(lambda p: WebhookEndpoint.objects.filter(is_active=True, kind=WebhookEndpoint.Kind.WEBHOOK)
                             .order_by().values_list(*columns(WebhookEndpoint)))


def active_webhook_endpoints(*, company: Company) -> list[WebhookEndpoint]:
    """The endpoints every event is offered to (bot platforms' endpoints get only what is routed to them),
    oldest first. Inside the company's scope, as every tenant read (outside any: TenantScopeError)."""
    scope = current_company()
    if scope is not None and scope.pk != company.pk:
        return []  # another company's scope sees none of this company's rows
    return [model_from(WebhookEndpoint, row) for row in sorted(_ACTIVE_ENDPOINTS.rows(), key=lambda row: row[0])]


def endpoint_get(*, company: Company, public_id: UUID | str, kinds: tuple[str, ...] = (WebhookEndpoint.Kind.WEBHOOK,)
                 ) -> WebhookEndpoint | None:
    """One endpoint of the company; the settings pages also open a bot platform's (its log, secret, test)."""
    try:
        return (WebhookEndpoint.objects.filter(company=company, public_id=public_id, kind__in=kinds)
                .select_related("platform__instance").first())
    except (ValueError, ValidationError):
        return None


def delivery_list(*, company: Company, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, each with its event and attempts (two queries in all)."""
    return (WebhookDelivery.objects.filter(company=company, endpoint=endpoint).select_related("event")
            .prefetch_related("attempt_set").order_by("-created_at", "-pk"))


def delivery_get(*, company: Company, endpoint: WebhookEndpoint, public_id: UUID | str) -> WebhookDelivery | None:
    try:
        return (WebhookDelivery.objects.filter(company=company, endpoint=endpoint, public_id=public_id)
                .select_related("endpoint", "event").first())
    except (ValueError, ValidationError):
        return None


def event_dedupe_keys_recorded(*, company: Company, keys: list[str]) -> set[str]:
    """Which of these dedupe keys an event was already recorded under (integrations.services.event_emit)."""
    return set(WebhookEvent.objects.filter(company=company, dedupe_key__in=keys).values_list("dedupe_key", flat=True))
