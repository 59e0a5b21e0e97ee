"""Events emitted by the other apps (contacts, instances) reach webhooks and the stream's group."""

from __future__ import annotations

import pytest
from django.test import TestCase

from contacts import services as contact_services
from instances.models import GatewayServer, Instance, InstanceState, InstanceStateChange
from instances.services import instance_record_state
from integrations.models import WebhookEvent
from tenants.scoping import company_scope


@pytest.fixture
def instance_a(company_a):
    server = GatewayServer.objects.create(name="gw", base_url="http://127.0.0.1:9", api_key="k", hook_secret="s",
                                          hook_secret_hash="events-hash")
    with company_scope(company_a):
        return Instance.objects.create(company=company_a, server=server, name="sales", gateway_name="alpha_sales",
                                       token="t", webhook_secret_hash="events-instance-hash")


def events(company) -> list[tuple[str, dict]]:
    with company_scope(company):
        return [(event.type, event.payload["data"]) for event in WebhookEvent.objects.order_by("pk")]


@pytest.mark.django_db
def test_contact_created_and_updated(company_a, company_b, endpoint_a, instance_a):
    with company_scope(company_a):
        contact = contact_services.contact_create(company=company_a, instance=instance_a, identifier="5511987654321",
                                                  custom_name="Ana")
        contact_services.contact_update(company=company_a, contact=contact, custom_name="Ana Paula")
        contact_services.contact_update(company=company_a, contact=contact, custom_name="Ana Paula")  # no change
        _inbound, created = contact_services.contact_get_or_create_by_identity(
            company=company_a, instance=instance_a, identifier="5511900000001", name="Bia")
    assert created
    got = events(company_a)
    assert [kind for kind, _data in got] == ["contact.created", "contact.updated", "contact.created"]
    assert got[0][1]["contact"]["id"] == str(contact.public_id)
    assert got[0][1]["instance"] == {"id": str(instance_a.public_id), "name": "sales"}
    assert got[1][1]["contact"]["custom_name"] == "Ana Paula"
    assert got[2][1]["contact"]["name"] == "Bia"
    assert events(company_b) == []


@pytest.mark.django_db
def test_instance_state_and_qr(company_a, endpoint_a, instance_a):
    with company_scope(company_a), TestCase.captureOnCommitCallbacks(execute=False):
        instance_record_state(company=company_a, instance=instance_a, state=InstanceState.CONNECTING,
                              source=InstanceStateChange.Source.SYSTEM, reason="connect")
        instance_record_state(company=company_a, instance=instance_a, state=InstanceState.CONNECTING,
                              source=InstanceStateChange.Source.WEBHOOK, qr_code="2@abc", pairing_code="ABCD1234",
                              qr_updated_at=instance_a.created_at)
    got = events(company_a)
    assert [kind for kind, _data in got] == ["instance.state", "instance.qr"]
    assert got[0][1]["state"] == "connecting" and got[0][1]["instance"]["id"] == str(instance_a.public_id)
    assert got[1][1]["qr_code"] == "2@abc" and got[1][1]["pairing_code"] == "ABCD1234"


@pytest.mark.django_db
def test_the_endpoints_events_are_offered_to_are_the_company_s_active_webhooks_oldest_first(company_a, company_b,
                                                                                             receiver):
    """active_webhook_endpoints (prepared once, tenants/prepared.py) reads what the ORM would: whole rows with
    the secret decrypted, and never another company's."""
    from integrations import selectors, services

    with company_scope(company_a):
        first = services.endpoint_create(company=company_a, url=receiver.url, event_types=["message.received"])
        services.endpoint_create(company=company_a, url=receiver.url, is_active=False)
        services.endpoint_create(company=company_a, url=receiver.url, kind="platform")
        second = services.endpoint_create(company=company_a, url=receiver.url, description="ERP")
    with company_scope(company_b):
        services.endpoint_create(company=company_b, url=receiver.url)
    with company_scope(company_a):
        got = selectors.active_webhook_endpoints(company=company_a)
        assert [endpoint.pk for endpoint in got] == [first.endpoint.pk, second.endpoint.pk]
        assert [endpoint.secret for endpoint in got] == [first.secret, second.secret]
        assert got[0].wants("message.received") and not got[0].wants("contact.created")
        assert got[1].description == "ERP" and not got[1]._state.adding
        assert selectors.active_webhook_endpoints(company=company_b) == []  # B's rows are not A's scope's to read
    with company_scope(company_b):
        assert [endpoint.company_id for endpoint in selectors.active_webhook_endpoints(company=company_b)] == [
            company_b.pk]
