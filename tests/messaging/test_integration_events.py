"""Messaging emits message.* and conversation.* events to webhooks and the event stream."""

from __future__ import annotations

import pytest

from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging import services
from messaging.services import Outgoing
from messaging.tasks import send_message
from tenants.scoping import company_scope
from tests.messaging.test_inbound import CUSTOMER, inbound, messages
from tests.messaging.test_outbound import conversation_a, queue  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


def _events(company) -> list[dict]:
    with company_scope(company):
        return [event.payload for event in WebhookEvent.objects.order_by("created_at", "pk")]


@pytest.fixture
def endpoint_a(company_a):
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp",
                                                    event_types=["message.received", "message.sent",
                                                                 "message.status", "message.deleted"]).endpoint


@pytest.fixture
def endpoint_b(company_b):
    with company_scope(company_b):
        return integration_services.endpoint_create(company=company_b, url="http://127.0.0.1:9/other").endpoint


def test_a_customer_message_is_emitted_once_to_its_company_only(company_a, instance_a, simulator, hooks,
                                                                  endpoint_a, company_b, endpoint_b):
    inbound(simulator, instance_a, kind="text", text="Oi, tudo bem?")
    assert hooks.deliver(instance_a) == ["processed"]
    assert hooks.deliver(instance_a) == []  # nothing new: the same event is not emitted again
    [event] = _events(company_a)
    [message] = messages(company_a)
    assert event["type"] == "message.received" and event["company"]["slug"] == company_a.slug
    data = event["data"]
    assert data["instance"] == {"id": str(instance_a.public_id), "name": instance_a.name}
    assert data["contact"]["identifier"] == CUSTOMER
    assert (data["message"]["id"], data["message"]["direction"], data["message"]["text"]) == (
        str(message.public_id), "in", "Oi, tudo bem?")
    assert _events(company_b) == []


def test_a_send_emits_sent_then_status_moves(company_a, instance_a, conversation_a, simulator, hooks,  # noqa: F811
                                             endpoint_a):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Temos sim!"))
    assert send_message.apply(args=[company_a.pk, message.pk]).get() == "sent"
    with company_scope(company_a):
        message.refresh_from_db()
        assert services.message_apply_status(company=company_a, instance=instance_a,
                                             gateway_message_id=message.gateway_message_id, status="delivered")
        # A late, older tick moves nothing and emits nothing.
        assert not services.message_apply_status(company=company_a, instance=instance_a,
                                                 gateway_message_id=message.gateway_message_id, status="sent")
    types = [(event["type"], event["data"]["message"]["status"]) for event in _events(company_a)]
    assert types == [("message.sent", "sent"), ("message.status", "delivered")]


@pytest.fixture
def all_events_endpoint_a(company_a):
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/all").endpoint


def test_conversation_lifecycle_is_emitted_once_per_real_change(company_a, owner_a, instance_a, simulator, hooks,
                                                                all_events_endpoint_a):
    inbound(simulator, instance_a, kind="text", text="Oi")
    assert hooks.deliver(instance_a) == ["processed"]
    with company_scope(company_a):
        conversation = services.conversation_start(company=company_a, instance=instance_a,
                                                   contact=messages(company_a)[0].conversation.contact)[0]
        services.conversation_assign(company=company_a, conversation=conversation, assignee=owner_a)
        services.conversation_assign(company=company_a, conversation=conversation, assignee=owner_a)  # no change
        services.conversation_set_status(company=company_a, conversation=conversation, status="closed")
        services.conversation_set_status(company=company_a, conversation=conversation, status="open")
    types = [event["type"] for event in _events(company_a) if event["type"].startswith("conversation.")]
    assert types == ["conversation.opened", "conversation.assigned", "conversation.closed", "conversation.opened"]
    assigned = next(event for event in _events(company_a) if event["type"] == "conversation.assigned")
    assert assigned["data"]["conversation"]["assignee"]["id"] == str(owner_a.public_id)
    assert assigned["data"]["contact"]["identifier"] == CUSTOMER


def test_delete_for_everyone_emits_message_deleted(company_a, instance_a, conversation_a, simulator, hooks,  # noqa: F811
                                                   endpoint_a):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Oops"))
    assert send_message.apply(args=[company_a.pk, message.pk]).get() == "sent"
    with company_scope(company_a):
        message.refresh_from_db()
        services.message_delete_for_everyone(company=company_a, message=message)
        services.message_delete_for_everyone(company=company_a, message=message)  # already deleted: nothing more
    deleted = [event for event in _events(company_a) if event["type"] == "message.deleted"]
    assert [event["data"]["message"] for event in deleted] == [{"id": str(message.public_id), "deleted_by": "agent"}]
