"""What an integrator's endpoint is told about a conversation's life and a send's fate, driven as an integrator
drives it: the API, the customer on the simulator, the events recorded for the company's webhooks."""

from __future__ import annotations

import pytest

from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging.models import Message
from tenants.scoping import company_scope
from tests.messaging.sending import send_now

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"


@pytest.fixture
def endpoint_a(company_a):
    with company_scope(company_a):
        return integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")


def events(company, *types: str) -> list[dict]:
    with company_scope(company):
        return [event.payload["data"] for event in WebhookEvent.objects.filter(type__in=types).order_by("pk")]


def sent_through_the_api(api, instance, company, hooks, text: str, outcome: str) -> tuple[dict, Message]:
    """POST /messages by number, then the chat's drain runs once: its answer and the stored message."""
    with hooks.capture():
        accepted = api.post("/api/v1/messages", {"instance_id": str(instance.public_id), "number": CUSTOMER,
                                                 "text": text}, format="json").json()
    with company_scope(company):
        message = Message.objects.get(public_id=accepted["id"])
    with hooks.capture(execute=False):
        assert send_now(company, message) == outcome
    return accepted, message


def test_a_send_refused_by_whatsapp_is_told_as_message_status_failed(api_a, instance_a, company_a, endpoint_a,
                                                                   simulator, hooks):
    """docs/webhooks.md: message.status `failed` (with `error`). A number not on WhatsApp failed the message
    and told nobody: the integrator's order notice was lost without a word."""
    simulator.fail_next(instance_a.gateway_name, count=1, mode="not_on_whatsapp", number=CUSTOMER)
    accepted, _message = sent_through_the_api(api_a, instance_a, company_a, hooks, "Seu pedido saiu", "failed")
    [failed] = events(company_a, "message.status")
    assert failed["message"]["id"] == accepted["id"] and failed["message"]["status"] == "failed"
    assert failed["message"]["error"] == "This number is not on WhatsApp." and failed["message"]["at"]
    assert failed["conversation"]["id"] == accepted["conversation"]
    assert failed["instance"] == {"id": str(instance_a.public_id), "name": instance_a.name}


def test_a_closed_conversation_reopened_by_the_customer_or_the_api_is_told_as_opened(api_a, instance_a, company_a,
                                                                                    endpoint_a, simulator, hooks):
    """conversation.opened covers reopening: a customer writing to a closed conversation, or POST
    /conversations for a contact whose conversation was closed (200, reopened), moved it to open and told no
    one, so an integrator mirroring statuses kept it closed."""
    simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "oi"})
    hooks.deliver(instance_a)
    [opened] = events(company_a, "conversation.opened")
    conversation = opened["conversation"]["id"]
    for reopen in ("customer", "api"):
        with hooks.capture():
            assert api_a.post(f"/api/v1/conversations/{conversation}/close").json()["status"] == "closed"
        if reopen == "customer":
            simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "voltei"})
            hooks.deliver(instance_a)
        else:
            with hooks.capture():
                again = api_a.post("/api/v1/conversations", {"contact_id": opened["contact"]["id"]}, format="json")
            assert again.status_code == 200 and again.json()["status"] == "open"
        told = [(event["conversation"]["id"], event["conversation"]["status"])
                for event in events(company_a, "conversation.opened", "conversation.closed")]
        assert told[-2:] == [(conversation, "closed"), (conversation, "open")], reopen
    with company_scope(company_a):
        types = list(WebhookEvent.objects.order_by("pk").values_list("type", flat=True))
    # The reopening is told before the message that caused it.
    assert types.index("conversation.opened", types.index("conversation.closed")) < len(types) - 1
    assert len(events(company_a, "conversation.opened")) == 3


def test_message_received_carries_what_each_kind_says(api_a, instance_a, company_a, endpoint_a, simulator, hooks):
    """A delivery ERP told "the customer sent a location" needs the coordinates, a bot in a group needs who wrote,
    a reaction needs its emoji and target: message.received carried none of them (only kind, text and media),
    so every such event cost a GET /messages/{id} to be understood."""
    ours, sent = sent_through_the_api(api_a, instance_a, company_a, hooks, "Qual o endereço?", "sent")
    sent_id = Message.all_companies.get(pk=sent.pk).gateway_message_id
    customer = {"from": CUSTOMER, "push_name": "Maria"}
    simulator.inbound(instance_a.gateway_name, **customer, kind="location", latitude=-23.55, longitude=-46.63,
                      name="Casa", address="Rua A, 1")
    simulator.inbound(instance_a.gateway_name, **customer, kind="contact",
                      contact={"full_name": "João", "phone_number": "5511933332222"})
    simulator.inbound(instance_a.gateway_name, **customer, kind="reaction", reaction={"message_id": sent_id,
                                                                                      "emoji": "❤️"})
    simulator.inbound(instance_a.gateway_name, **{"from": "5511977776666", "push_name": "Zé"},
                      group="120363025246125888@g.us", text="oi grupo")
    hooks.deliver(instance_a)
    received = {event["message"]["kind"]: event["message"] for event in events(company_a, "message.received")}
    assert received["location"]["location"] == {"latitude": -23.55, "longitude": -46.63, "name": "Casa",
                                                "address": "Rua A, 1"}
    assert received["contact"]["contacts"] == [{"full_name": "João", "phone_number": "5511933332222"}]
    assert (received["reaction"]["emoji"], received["reaction"]["reaction_to_message_id"]) == ("❤️", ours["id"])
    assert received["text"]["participant"] == {"jid": "5511977776666@s.whatsapp.net", "name": "Zé"}
    assert received["location"]["participant"] is None and received["text"]["location"] is None


def test_a_message_typed_on_the_phone_is_told_as_sent(company_a, instance_a, endpoint_a, simulator, hooks):
    """The phone's owner answering from the phone is a message that left for the customer, as docs/webhooks.md
    describes message.sent; it was stored and shown in the inbox but told to no integrator, so an ERP mirroring
    the conversation missed every answer not typed in Recado."""
    simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "tem pão?"})
    simulator.inbound(instance_a.gateway_name, to=CUSTOMER, from_me=True, text="Tem sim, pode vir")
    hooks.deliver(instance_a)
    [sent] = events(company_a, "message.sent")
    assert (sent["message"]["text"], sent["message"]["direction"], sent["message"]["sender"]["type"]) == (
        "Tem sim, pode vir", "out", "phone")
    assert sent["contact"]["identifier"] == CUSTOMER and sent["message"]["status"] == "sent"
    assert [event["message"]["text"] for event in events(company_a, "message.received")] == ["tem pão?"]


def test_a_contact_first_written_to_takes_the_name_the_customer_writes_back_with(api_a, instance_a, company_a,
                                                                                endpoint_a, simulator, hooks):
    """The usual integration starts with our message (an order notice by number): the contact is created with no
    name, and it kept none when the customer answered with their WhatsApp name, so the inbox, the API and every
    event showed a bare number forever. A message typed on the phone to a new number named the contact after
    the phone's owner (its push name is the owner's)."""
    with hooks.capture():
        api_a.post("/api/v1/messages", {"instance_id": str(instance_a.public_id), "number": CUSTOMER,
                                        "text": "Seu pedido saiu"}, format="json")
    simulator.inbound(instance_a.gateway_name, to="5511933332222", from_me=True, text="Oi, aqui é a loja")
    simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Carla Souza", "text": "Obrigada!"})
    simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Carla S.", "text": "Até"})
    hooks.deliver(instance_a)
    contacts = {row["identifier"]: row for row in api_a.get("/api/v1/contacts").json()["results"]}
    assert contacts[CUSTOMER]["name"] == "Carla Souza"  # taken once, when it had none
    assert contacts["5511933332222"]["name"] == ""
    [updated] = events(company_a, "contact.updated")
    assert (updated["contact"]["identifier"], updated["contact"]["name"]) == (CUSTOMER, "Carla Souza")
