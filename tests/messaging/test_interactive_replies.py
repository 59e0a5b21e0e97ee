"""A customer taps a row of a list or a button we sent: the option's id and title, and the list or buttons it answers,
reach the thread, the API, the integrator's `message.received` and the bot platform (which branches on the id).
Driven end to end: the API sends, the simulator's customer taps, the real hooks store it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from integrations import bots
from integrations.models import WebhookDelivery
from integrations.payloads import message_data
from messaging.models import Message
from tenants.scoping import company_scope
from tests.messaging.sending import send_now

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"
MENU = {"type": "list", "title": "Cardápio", "button_text": "Ver opções",
        "sections": [{"title": "Pizzas", "rows": [{"id": "p1", "title": "Calabresa", "description": "Com cebola"},
                                                  {"id": "p2", "title": "Margherita"}]}]}
CONFIRM = {"type": "buttons", "title": "Confirma o pedido?",
           "buttons": [{"text": "Sim", "id": "yes"}, {"text": "Não", "id": "no"}]}


def sent(api, company, instance, hooks, interactive: dict) -> Message:
    """POST /messages with a list or buttons, sent to the simulator by the chat's drain."""
    with hooks.capture():
        accepted = api.post("/api/v1/messages", {"instance_id": str(instance.public_id), "number": CUSTOMER,
                                                 "kind": "interactive", "interactive": interactive}, format="json")
    assert accepted.status_code == 202, accepted.content
    with company_scope(company):
        message = Message.objects.get(public_id=accepted.json()["id"])
    with hooks.capture(execute=False):
        assert send_now(company, message) == "sent"
    with company_scope(company):
        return Message.objects.get(pk=message.pk)


def tapped(simulator, instance, hooks, company, answered: Message, option_id: str, kind: str, **spec) -> Message:
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "kind": kind,
                                                "reply_to": answered.gateway_message_id, "option_id": option_id,
                                                **spec})
    assert "processed" in hooks.deliver(instance)
    with company_scope(company):
        return Message.objects.filter(direction="in").select_related("quoted").latest("pk")


@pytest.fixture
def platform_a(company_a, instance_a):
    with company_scope(company_a):
        return bots.platform_create(company=company_a, instance=instance_a, slug="pedidos",
                                    callback_url="http://127.0.0.1:9/bot", make_starting=True)


def delivered_to_bot(company) -> list[dict]:
    with company_scope(company):
        return [delivery.event.payload for delivery in WebhookDelivery.objects.filter(
            endpoint__platform__slug="pedidos").select_related("event").order_by("pk")]


def test_a_list_row_reaches_the_api_the_webhook_and_the_bot_with_its_id(api_a, company_a, instance_a, simulator,
                                                                        hooks, platform_a):
    menu = sent(api_a, company_a, instance_a, hooks, MENU)
    choice = tapped(simulator, instance_a, hooks, company_a, menu, "p1", "list_reply")
    assert (choice.kind, choice.text, choice.quoted_id) == ("interactive", "Calabresa", menu.pk)
    assert choice.interactive == {"type": "list_reply", "id": "p1", "title": "Calabresa",
                                  "description": "Com cebola"}
    shown = api_a.get(f"/api/v1/messages/{choice.public_id}").json()
    assert shown["interactive"] == choice.interactive and shown["quoted"] == str(menu.public_id)
    [received] = delivered_to_bot(company_a)  # the same body the integrator's webhooks get
    assert received["type"] == "message.received"
    assert received["data"]["message"]["interactive"] == choice.interactive
    assert received["data"]["message"]["quoted_message_id"] == str(menu.public_id)


@pytest.mark.parametrize("reply_format", ["native_flow", "buttons", "template"])
def test_a_button_tap_keeps_the_button_id_in_every_format_whatsapp_uses(api_a, company_a, instance_a, simulator,
                                                                         hooks, reply_format):
    confirm = sent(api_a, company_a, instance_a, hooks, CONFIRM)
    choice = tapped(simulator, instance_a, hooks, company_a, confirm, "no", "button_reply", format=reply_format)
    assert choice.interactive == {"type": "button_reply", "id": "no", "title": "Não", "description": ""}
    assert choice.quoted_id == confirm.pk
    with company_scope(company_a):
        assert choice.conversation.last_message_preview == "Não"


def test_the_thread_shows_the_choice_under_the_list_it_answers(api_a, company_a, instance_a, simulator, hooks,
                                                               client_a, client_b):
    menu = sent(api_a, company_a, instance_a, hooks, MENU)
    choice = tapped(simulator, instance_a, hooks, company_a, menu, "p2", "list_reply")
    url = reverse("messaging:conversation", args=[company_a.slug, choice.conversation.public_id])
    page = client_a.get(url).content.decode()
    bubble = page.split(f'id="message-{choice.public_id.hex}"', 1)[1].split('<div id="message-', 1)[0]
    assert '<blockquote class="message-quote small" data-testid="quote">Cardápio</blockquote>' in bubble
    assert 'data-testid="interactive-reply" data-option-id="p2">↩ Chose: Margherita</div>' in bubble
    assert 'data-testid="message-text"' not in bubble  # the title is not repeated as a text
    menu_bubble = page.split(f'id="message-{menu.public_id.hex}"', 1)[1].split('<div id="message-', 1)[0]
    assert '<li data-option-id="p1">☰ Calabresa</li><li data-option-id="p2">☰ Margherita</li>' in menu_bubble
    assert client_b.get(url).status_code == 404


def test_another_companys_choice_is_invisible(api_a, api_b, company_a, instance_a, simulator, hooks):
    menu = sent(api_a, company_a, instance_a, hooks, MENU)
    choice = tapped(simulator, instance_a, hooks, company_a, menu, "p1", "list_reply")
    assert api_b.get(f"/api/v1/messages/{choice.public_id}").status_code == 404
    assert api_b.get(f"/api/v1/conversations/{choice.conversation.public_id}/messages").status_code == 404


def test_the_documented_tap_is_what_is_sent(api_a, company_a, instance_a, simulator, hooks):
    """docs/webhooks.md and docs/bots.md show a tap's `interactive`: the keys a bot branches on are the real ones."""
    menu = sent(api_a, company_a, instance_a, hooks, CONFIRM)
    choice = tapped(simulator, instance_a, hooks, company_a, menu, "yes", "button_reply")
    with company_scope(company_a):
        real = message_data(Message.objects.select_related("quoted", "conversation__contact").get(pk=choice.pk))
    docs = Path(settings.BASE_DIR) / "docs"
    webhooks = (docs / "webhooks.md").read_text().split("**A tap on a list row or a button**", 1)[1]
    bots = (docs / "bots.md").read_text().split("### Menus: lists and buttons", 1)[1]
    for text, message in ((webhooks, lambda doc: doc["message"]), (bots, lambda doc: doc)):
        documented = message(json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1)))
        assert documented["interactive"].keys() == real["message"]["interactive"].keys()
        assert documented["interactive"]["type"] in ("list_reply", "button_reply")
        assert {"kind", "text", "quoted_message_id"} <= documented.keys() <= real["message"].keys() | {"..."}
        assert documented["kind"] == real["message"]["kind"] and real["message"]["quoted_message_id"]
