"""Messaging emits message.* and conversation.* events to webhooks and the event stream."""

from __future__ import annotations

import pytest

from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging import services
from messaging.services import Outgoing
from tenants.scoping import company_scope
from tests.messaging.sending import send_now
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
    assert send_now(company_a, message) == "sent"
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


def test_priority_and_open_pending_moves_are_told_as_conversation_updated(company_a, instance_a, conversation_a,  # noqa: F811
                                                                          all_events_endpoint_a):
    with company_scope(company_a):
        services.conversation_set_priority(company=company_a, conversation=conversation_a, priority="high")
        services.conversation_set_priority(company=company_a, conversation=conversation_a, priority="high")  # same
        services.conversation_set_status(company=company_a, conversation=conversation_a, status="pending")
        services.conversation_set_status(company=company_a, conversation=conversation_a, status="closed")
        services.conversation_set_status(company=company_a, conversation=conversation_a, status="pending")
    told = [(event["type"], event["data"].get("changed"), event["data"]["conversation"]["status"],
             event["data"]["conversation"]["priority"])
            for event in _events(company_a) if event["type"].startswith("conversation.")]
    assert told == [("conversation.updated", ["priority"], "open", "high"),
                    ("conversation.updated", ["status"], "pending", "high"),
                    ("conversation.closed", None, "closed", "high"),
                    ("conversation.opened", None, "pending", "high")]


def test_delete_for_everyone_emits_message_deleted(company_a, instance_a, conversation_a, simulator, hooks,  # noqa: F811
                                                   endpoint_a):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Oops"))
    assert send_now(company_a, message) == "sent"
    with company_scope(company_a):
        message.refresh_from_db()
        services.message_delete_for_everyone(company=company_a, message=message)
        services.message_delete_for_everyone(company=company_a, message=message)  # already deleted: nothing more
    deleted = [event for event in _events(company_a) if event["type"] == "message.deleted"]
    assert [event["data"]["message"] for event in deleted] == [{"id": str(message.public_id), "deleted_by": "agent"}]


def _deliveries(company) -> list[tuple[str, str]]:
    from integrations.models import WebhookDelivery

    with company_scope(company):
        return sorted(WebhookDelivery.objects.values_list("endpoint__url", "event__type"))


def test_a_first_message_reaches_every_endpoint_with_each_of_its_events(company_a, instance_a, simulator, hooks,
                                                                         company_b, instance_b, endpoint_b):
    """The apply reads the company's webhook endpoints once for its three events: company A has two (one wanting
    everything, one only messages) and one switched off, company B one; the same number writes to both."""
    with company_scope(company_a):
        everything = integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/all").endpoint
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/messages",
                                             event_types=["message.received"])
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/off", is_active=False)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    inbound(simulator, instance_a, text="first")
    inbound(simulator, instance_b, text="first to b")
    with CaptureQueriesContext(connection) as queries:
        assert hooks.deliver(instance_a) == ["processed"]
    assert sum('FROM "integrations_webhookendpoint"' in query["sql"] for query in queries) == 1  # not 3
    assert hooks.deliver(instance_b) == ["processed"]
    assert _deliveries(company_a) == [
        ("http://127.0.0.1:9/all", "contact.created"), ("http://127.0.0.1:9/all", "conversation.opened"),
        ("http://127.0.0.1:9/all", "message.received"), ("http://127.0.0.1:9/messages", "message.received")]
    assert _deliveries(company_b) == [
        ("http://127.0.0.1:9/other", "contact.created"), ("http://127.0.0.1:9/other", "conversation.opened"),
        ("http://127.0.0.1:9/other", "message.received")]
    # Switched off between two messages: the next one reaches only the endpoint still on.
    with company_scope(company_a):
        integration_services.endpoint_update(company=company_a, endpoint=everything, url=everything.url,
                                             description="", event_types=[], is_active=False)
    inbound(simulator, instance_a, text="second")
    assert hooks.deliver(instance_a) == ["processed"]
    assert _deliveries(company_a).count(("http://127.0.0.1:9/messages", "message.received")) == 2
    assert _deliveries(company_a).count(("http://127.0.0.1:9/all", "message.received")) == 1


def test_a_company_without_endpoints_records_no_event_but_streams_it(company_a, instance_a, simulator, hooks,
                                                                      company_b, endpoint_b):
    from tests.realtime_listener import Listener

    stream = Listener().join(company_a, integration_services.STREAM_TOPIC)
    inbound(simulator, instance_a, text="nobody listens by webhook")
    assert hooks.deliver(instance_a) == ["processed"]
    assert _events(company_a) == [] and _deliveries(company_b) == []
    assert len(stream.drain()) == 3  # contact.created, conversation.opened, message.received


@pytest.mark.django_db(transaction=True)
def test_reading_endpoints_once_needs_a_transaction(company_a, endpoint_a):
    # Outside a transaction the block refuses to start: its body (an event) never runs, nothing is recorded.
    once = integration_services.webhook_endpoints_read_once(company=company_a)
    with pytest.raises(RuntimeError), once, company_scope(company_a):
        integration_services.event_emit(company=company_a, event_type="message.received", payload={})
    assert _events(company_a) == []


def test_reading_endpoints_once_applies_to_its_company_only(company_a, endpoint_a, company_b, endpoint_b):
    from django.db import transaction

    once = integration_services.webhook_endpoints_read_once(company=company_a)
    with transaction.atomic(), once:
        with company_scope(company_a):
            integration_services.event_emit(company=company_a, event_type="message.received", payload={})
        with company_scope(company_b):
            integration_services.event_emit(company=company_b, event_type="message.received", payload={})
    assert [event["type"] for event in _events(company_a)] == ["message.received"]
    assert [event["type"] for event in _events(company_b)] == ["message.received"]
    assert _deliveries(company_a) == [("http://127.0.0.1:9/erp", "message.received")]
    assert _deliveries(company_b) == [("http://127.0.0.1:9/other", "message.received")]
