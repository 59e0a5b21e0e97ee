"""Reads of outgoing webhooks, always inside one company (STYLE rule 8)."""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from integrations.models import WebhookDelivery, WebhookEndpoint
from tenants.models import Company

DELIVERY_LOG_LIMIT = 50


def endpoint_list(*, company: Company) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(company=company).order_by("-created_at")


def endpoint_get(*, company: Company, public_id: UUID | str) -> WebhookEndpoint | None:
    try:
        return WebhookEndpoint.objects.filter(company=company, public_id=public_id).first()
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
