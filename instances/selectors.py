"""Reads of instances and gateway servers; every tenant read takes the company explicitly (STYLE rules 3, 8)."""

from __future__ import annotations

import base64
import binascii
from uuid import UUID

from django.db.models import Count, F, Q, QuerySet

from instances.models import GatewayServer, Instance, InstanceState, InstanceStateChange
from tenants.models import Company


def _uuid(value: object) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def instance_list(*, company: Company, state: str | None = None) -> QuerySet[Instance]:
    instances = Instance.objects.filter(company=company).select_related("server")
    if state:
        instances = instances.filter(state=state)
    return instances.order_by("name")


def instance_get(*, company: Company, public_id: object) -> Instance | None:
    """The company's instance with this public id, or None (foreign and unknown ids look the same)."""
    uuid = _uuid(public_id)
    if uuid is None:
        return None
    return Instance.objects.filter(company=company, public_id=uuid).select_related("server").first()


def instance_exists(company: Company, public_id: UUID) -> bool:
    """Realtime topic resolver: may a member of `company` subscribe to this instance?"""
    return Instance.objects.filter(company=company, public_id=public_id).exists()


def instance_timeline(*, company: Company, instance: Instance, limit: int = 20) -> list[InstanceStateChange]:
    return list(InstanceStateChange.objects.filter(company=company, instance=instance).order_by("-at", "-pk")[:limit])


def instance_attention_count(*, company: Company) -> int:
    """Instances that were connected or tried to be, and are not now (the navigation badge)."""
    attention = (InstanceState.CLOSE, InstanceState.UNREACHABLE)
    return Instance.objects.filter(company=company, state__in=attention).count()


def instance_deletion_impact(*, company: Company, instance: Instance) -> dict[str, int]:
    """What deleting the instance takes with it (its contacts and conversations cascade), for the confirmation."""
    return {"contacts": instance.contacts.filter(company=company).count(),
            "conversations": instance.conversations.filter(company=company).count()}


def instance_count(*, company: Company) -> int:
    return Instance.objects.filter(company=company).count()


def gateway_server_list() -> QuerySet[GatewayServer]:
    """Every server with its instance counts (across companies: load is a property of the server)."""
    return GatewayServer.objects.annotate(
        instance_count=Count("instances"),
        open_count=Count("instances", filter=Q(instances__state=InstanceState.OPEN)),
    ).order_by("name")


def gateway_server_get(*, public_id: object) -> GatewayServer | None:
    uuid = _uuid(public_id)
    return GatewayServer.objects.filter(public_id=uuid).first() if uuid else None


def gateway_server_least_loaded() -> GatewayServer | None:
    """The enabled server with room and the fewest instances (ties: the oldest)."""
    return (
        GatewayServer.objects.filter(enabled=True)
        .annotate(load=Count("instances"))
        .filter(load__lt=F("capacity"))
        .order_by("load", "pk")
        .first()
    )



def instance_qr_png(instance: Instance) -> bytes | None:
    """The current QR as PNG bytes, or None when there is none (not connecting, or not generated yet)."""
    if not instance.has_qr:
        return None
    _, _, payload = instance.qr_data_url.partition("base64,")
    try:
        return base64.b64decode(payload, validate=True) or None
    except (binascii.Error, ValueError):
        return None
