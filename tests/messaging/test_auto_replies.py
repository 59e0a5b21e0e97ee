"""Automatic replies (messaging/auto_replies.py): the greeting and the away message, end to end from the
simulator's customer through our hook and the outbound drain back to the simulator; their settings on the page and
through the API; automatic assignment (every member or the listed ones, a list left empty by departures, two
conversations opened at once, SQLite); another company's instance is 404 everywhere and its members are refused."""

from __future__ import annotations

import importlib
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact
from instances.gateways.events import MessageReceived
from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging import auto_replies, services
from messaging.inbound import message_record_inbound
from messaging.models import AutoReply, Conversation, Message
from messaging.tasks import close_inactive_conversations, close_inactive_for_company
from tenants import services as tenant_services
from tenants.models import Membership
from tenants.scoping import company_scope
from tests.factories import make_api_key, make_contact, make_instance, make_member
from tests.messaging.conftest import open_instance
from tests.messaging.sending import drain
from tests.messaging.test_bots import platform
from tests.test_settings import run_django
from tests.threads import wait_until_another_waits_for_a_lock, while_a_transaction_holds

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"
ALWAYS_OPEN = [["00:00", "23:59"]] * 7
ALWAYS_CLOSED = [None] * 7
GREETING = "Olá {{contact.first_name}}, bem-vindo à Mercearia!"
AWAY = "Estamos fechados agora; respondemos às 9h."


def configure(company, instance, **values) -> AutoReply:
    with company_scope(company):
        return auto_replies.auto_reply_update(company=company, instance=instance, **values)


def customer_writes(simulator, hooks, instance, text: str = "Oi", **spec) -> list[str]:
    simulator.inbound(instance.gateway_name, **{"from": CUSTOMER, "push_name": "Maria Souza", "text": text, **spec})
    return hooks.deliver(instance)


def automatic(company) -> list[Message]:
    with company_scope(company):
        return list(Message.objects.filter(sender_type=Message.SenderType.AUTOMATION).order_by("pk"))


def sent_texts(simulator, instance) -> list[str]:
    return [entry["message"].get("conversation") for entry in simulator.sent(instance.gateway_name)]


def test_a_new_conversation_gets_the_greeting_once_with_the_customers_first_name(
        company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text=GREETING, opening_hours=ALWAYS_OPEN)
    customer_writes(simulator, hooks, instance_a, "Oi, vocês têm pão?")
    [reply] = automatic(company_a)
    assert (reply.text, reply.direction, reply.status) == ("Olá Maria, bem-vindo à Mercearia!", "out", "queued")
    drain(company_a, reply)
    assert "Olá Maria, bem-vindo à Mercearia!" in sent_texts(simulator, instance_a)
    customer_writes(simulator, hooks, instance_a, "Alô?")  # the same open conversation: no second greeting
    assert len(automatic(company_a)) == 1
    with company_scope(company_a):
        conversation = Conversation.objects.get()
    assert conversation.unread_count == 2  # the greeting answers nobody: the customer still waits for a person


def test_the_thread_says_which_message_was_automatic(client_a, client_b, company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text="Bom dia!", opening_hours=ALWAYS_OPEN)
    customer_writes(simulator, hooks, instance_a)
    with company_scope(company_a):
        conversation = Conversation.objects.get()
    url = f"/c/{company_a.slug}/inbox/{conversation.public_id}/"
    thread = client_a.get(url, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert thread.count('data-testid="automatic-reply"') == 1 and "Resposta automática ·" in thread
    assert client_b.get(url).status_code == 404


def test_replaying_the_gateways_events_never_greets_twice(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text=GREETING, opening_hours=ALWAYS_OPEN)
    simulator.inbound(instance_a.gateway_name, **{"from": CUSTOMER, "push_name": "Maria", "text": "Oi"})
    bodies = hooks.new_bodies(instance_a)
    for _ in range(3):
        hooks.deliver(instance_a, bodies)
    assert len(automatic(company_a)) == 1


def test_a_reopened_conversation_is_greeted_again(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text="Bom dia!", opening_hours=ALWAYS_OPEN)
    customer_writes(simulator, hooks, instance_a)
    with company_scope(company_a):
        conversation = Conversation.objects.get()
        services.conversation_set_status(company=company_a, conversation=conversation, status="closed")
    customer_writes(simulator, hooks, instance_a, "Voltei")
    assert [message.text for message in automatic(company_a)] == ["Bom dia!", "Bom dia!"]


def test_outside_the_hours_the_away_message_goes_instead_once_per_night(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text=GREETING, away_enabled=True,
              away_text=AWAY, opening_hours=ALWAYS_CLOSED)
    for text in ("Oi", "Alguém aí?", "Preciso de ajuda"):
        customer_writes(simulator, hooks, instance_a, text)
    assert [message.text for message in automatic(company_a)] == [AWAY]


def test_within_the_hours_no_away_message(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, away_enabled=True, away_text=AWAY, opening_hours=ALWAYS_OPEN)
    customer_writes(simulator, hooks, instance_a)
    assert automatic(company_a) == []


@pytest.mark.parametrize("spec", [
    {"group": "120363025246125486@g.us"},  # a group: nobody greets a group
    {"timestamp": int(time.time()) - 3600},  # an hour old: history sync or a late replay
    {"kind": "reaction", "emoji": "👍", "target_id": "3AUNKNOWN"},
], ids=["group", "old", "reaction"])
def test_no_automatic_reply_for_what_a_customer_did_not_just_write_to_us(company_a, instance_a, simulator, hooks,
                                                                          spec):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text="Oi!", away_enabled=True, away_text=AWAY,
              opening_hours=ALWAYS_CLOSED)
    customer_writes(simulator, hooks, instance_a, **spec)
    assert automatic(company_a) == []


def test_the_phone_owner_an_ignored_contact_and_a_bots_contact_get_none(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text="Oi!", opening_hours=ALWAYS_OPEN)
    simulator.inbound(instance_a.gateway_name, **{"to": CUSTOMER, "from_me": True, "text": "Oi, aqui é a loja"})
    hooks.deliver(instance_a)
    assert automatic(company_a) == []
    with company_scope(company_a):
        Contact.objects.filter(identifier=CUSTOMER).update(is_ignored=True)
    customer_writes(simulator, hooks, instance_a)
    assert automatic(company_a) == []
    platform(company_a, instance_a, "vendas", starting=True)  # the bot greets its own way
    simulator.inbound(instance_a.gateway_name, **{"from": "5511944443333", "text": "Oi"})
    hooks.deliver(instance_a)
    assert automatic(company_a) == []


def test_turned_off_again_nothing_is_sent(company_a, instance_a, simulator, hooks):
    configure(company_a, instance_a, greeting_enabled=True, greeting_text="Oi!", opening_hours=ALWAYS_OPEN)
    configure(company_a, instance_a, greeting_enabled=False)
    instance_a.refresh_from_db()
    assert instance_a.auto_replies_on is False
    customer_writes(simulator, hooks, instance_a)
    assert automatic(company_a) == []


def test_another_companys_settings_answer_nothing_here(company_a, company_b, instance_a, instance_b, simulator,
                                                      hooks):
    configure(company_b, instance_b, greeting_enabled=True, greeting_text="B says hi", opening_hours=ALWAYS_OPEN)
    customer_writes(simulator, hooks, instance_a)
    assert automatic(company_a) == [] and automatic(company_b) == []


# --- the rules -----------------------------------------------------------------------------------------------


def test_bad_settings_name_their_field_and_write_nothing(company_a, instance_a):
    cases = [
        ({"greeting_enabled": True, "greeting_text": "  "}, "greeting_text"),
        ({"away_enabled": True}, "away_text"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"opening_hours": [["09:00", "18:00"]] * 6}, "opening_hours"),
        ({"opening_hours": [["9h", "18h"]] + [None] * 6}, "opening_hours"),
        ({"opening_hours": [["09:00", "09:00"]] + [None] * 6}, "opening_hours"),  # 18:00-09:00 runs overnight
        ({"greeting_text": "x" * 4097}, "greeting_text"),
        ({"away_text": "a\x00b"}, "away_text"),
    ]
    for values, field in cases:
        with pytest.raises(ValidationError) as raised:
            configure(company_a, instance_a, **values)
        assert field in raised.value.message_dict, values
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 12, 7, 12, 0, tzinfo=UTC), True),  # Monday 09:00 in São Paulo: opens
    (datetime(2026, 12, 7, 11, 59, tzinfo=UTC), False),  # Monday 08:59 there
    (datetime(2026, 12, 7, 20, 59, tzinfo=UTC), True),  # Monday 17:59
    (datetime(2026, 12, 7, 21, 0, tzinfo=UTC), False),  # Monday 18:00: closed
    (datetime(2026, 12, 6, 13, 0, tzinfo=UTC), False),  # Sunday
    (datetime(2026, 12, 8, 2, 0, tzinfo=UTC), False),  # Tuesday 02:00 UTC is Monday 23:00 there
])
def test_the_hours_are_read_in_the_instances_time_zone(moment, expected):
    reply = AutoReply(time_zone="America/Sao_Paulo")  # default hours: Monday to Friday 09:00-18:00
    assert auto_replies.is_open(reply, moment) is expected


# Friday 18:00-02:00 and Sunday 20:00-01:00 run past midnight; Saturday has its own morning too.
NIGHTS = [None, None, None, None, ["18:00", "02:00"], ["10:00", "12:00"], ["20:00", "01:00"]]


@pytest.mark.parametrize(("moment", "expected"), [
    (datetime(2026, 12, 11, 20, 59, tzinfo=UTC), False),  # Friday 17:59 in São Paulo
    (datetime(2026, 12, 11, 21, 0, tzinfo=UTC), True),  # Friday 18:00: opens
    (datetime(2026, 12, 12, 2, 59, tzinfo=UTC), True),  # Friday 23:59, before midnight
    (datetime(2026, 12, 12, 3, 0, tzinfo=UTC), True),  # Saturday 00:00: Friday's night goes on
    (datetime(2026, 12, 12, 4, 59, tzinfo=UTC), True),  # Saturday 01:59
    (datetime(2026, 12, 12, 5, 0, tzinfo=UTC), False),  # Saturday 02:00: Friday's night is over
    (datetime(2026, 12, 12, 14, 0, tzinfo=UTC), True),  # Saturday 11:00: its own hours
    (datetime(2026, 12, 12, 23, 0, tzinfo=UTC), False),  # Saturday 20:00: its hours do not run overnight
    (datetime(2026, 12, 14, 2, 0, tzinfo=UTC), True),  # Sunday 23:00
    (datetime(2026, 12, 14, 3, 30, tzinfo=UTC), True),  # Monday 00:30: Sunday's night wraps into the week
    (datetime(2026, 12, 14, 4, 0, tzinfo=UTC), False),  # Monday 01:00
    (datetime(2026, 12, 10, 4, 0, tzinfo=UTC), False),  # Thursday 01:00: Wednesday was closed
])
def test_hours_that_close_before_they_open_run_past_midnight_into_the_next_day(moment, expected):
    reply = AutoReply(time_zone="America/Sao_Paulo", opening_hours=NIGHTS)
    assert auto_replies.is_open(reply, moment) is expected


def test_a_night_past_midnight_is_read_in_the_instances_time_zone():
    saturday_01_30_in_sao_paulo = datetime(2026, 12, 12, 4, 30, tzinfo=UTC)  # Saturday 04:30 in UTC
    assert auto_replies.is_open(AutoReply(time_zone="America/Sao_Paulo", opening_hours=NIGHTS),
                                saturday_01_30_in_sao_paulo) is True
    assert auto_replies.is_open(AutoReply(time_zone="UTC", opening_hours=NIGHTS),
                                saturday_01_30_in_sao_paulo) is False


def test_a_night_past_midnight_is_saved_and_the_same_time_twice_is_refused_clearly(
        api_a, client_a, company_a, instance_a):
    response = api_a.put(api_url(instance_a), {"opening_hours": NIGHTS}, format="json")
    assert response.status_code == 200 and response.json()["opening_hours"] == NIGHTS
    response = api_a.put(api_url(instance_a), {"opening_hours": [["18:00", "18:00"]] + [None] * 6}, format="json",
                         HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 400
    assert response.json()["errors"]["opening_hours"] == [
        "Dia 1: o horário de abertura e o de fechamento são iguais. Para um dia aberto 24 horas, informe 00:00 a "
        "23:59."]
    response = client_a.post(page_url(company_a, instance_a), hours_post(day4_opens="18:00", day4_closes="02:00"))
    assert response.status_code == 302
    with company_scope(company_a):
        assert AutoReply.objects.get(instance=instance_a).opening_hours == [["08:00", "17:30"]] * 4 + [
            ["18:00", "02:00"], None, None]
    response = client_a.post(page_url(company_a, instance_a), hours_post(day0_opens="09:00", day0_closes="09:00"))
    assert response.status_code == 400
    assert "The opening and the closing time are the same." in response.content.decode()
    with company_scope(company_a):  # the refused page changed nothing
        assert AutoReply.objects.get(instance=instance_a).opening_hours[0] == ["08:00", "17:30"]
    page = client_a.get(page_url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "18:00 a 02:00 fica aberto depois da meia-noite" in page
    assert api_a.get(api_url(instance_a)).json()["opening_hours"][4] == ["18:00", "02:00"]


def test_placeholders_are_filled_and_left_out_cleanly_without_a_name():
    assert auto_replies.fill(GREETING, Contact(name="Maria Souza")) == "Olá Maria, bem-vindo à Mercearia!"
    assert auto_replies.fill("{{contact.name}}, oi", Contact(name="Ana", custom_name="Ana Paula")) == "Ana Paula, oi"
    assert auto_replies.fill(GREETING, Contact(identifier=CUSTOMER)) == "Olá, bem-vindo à Mercearia!"


# --- the page ------------------------------------------------------------------------------------------------


def page_url(company, instance) -> str:
    return f"/c/{company.slug}/instances/{instance.public_id}/automatic-replies/"


def hours_post(**overrides) -> dict:
    data = {"time_zone": "America/Sao_Paulo"}
    for day in range(5):
        data.update({f"day{day}_open": "on", f"day{day}_opens": "08:00", f"day{day}_closes": "17:30"})
    return {**data, **overrides}


def test_an_admin_sets_them_up_on_the_page_linked_from_the_instance(client_a, company_a, instance_a):
    detail = client_a.get(f"/c/{company_a.slug}/instances/{instance_a.public_id}/").content.decode()
    assert page_url(company_a, instance_a) in detail
    page = client_a.get(page_url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Respostas automáticas" in page and 'value="America/Sao_Paulo" selected' in page
    response = client_a.post(page_url(company_a, instance_a), hours_post(
        greeting_enabled="on", greeting_text=" Olá {{contact.first_name}}! ", away_enabled="on", away_text=AWAY))
    assert response.status_code == 302
    with company_scope(company_a):
        reply = AutoReply.objects.get(instance=instance_a)
    assert (reply.greeting_enabled, reply.greeting_text, reply.away_enabled, reply.away_text) == (
        True, "Olá {{contact.first_name}}!", True, AWAY)
    assert reply.opening_hours == [["08:00", "17:30"]] * 5 + [None, None]
    again = client_a.get(page_url(company_a, instance_a)).content.decode()
    assert 'value="17:30"' in again and "Olá {{contact.first_name}}!" in again


def test_page_errors_are_shown_on_their_fields_and_nothing_is_saved(client_a, company_a, instance_a):
    response = client_a.post(page_url(company_a, instance_a), hours_post(
        greeting_enabled="on", greeting_text="", day0_opens="18:00", day0_closes="", time_zone="Mars/Base"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "Give the opening and the closing time." in page
    assert "Select a valid choice" in page
    response = client_a.post(page_url(company_a, instance_a), hours_post(greeting_enabled="on", greeting_text=""))
    assert response.status_code == 400 and "Write the greeting to send it." in response.content.decode()
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


def test_one_page_submit_shows_every_problem_at_once(client_a, company_a, instance_a):
    """An opening-hours problem found by the form used to hide the service's ("Write the greeting") until the next
    save."""
    response = client_a.post(page_url(company_a, instance_a), hours_post(
        greeting_enabled="on", greeting_text=" ", away_enabled="on", away_text="", auto_close_hours="9999",
        day0_opens="09:00", day0_closes="09:00", day1_opens=""), HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors["greeting_text"] == ["Escreva a saudação para enviá-la."]
    assert form.errors["away_text"] == ["Escreva a mensagem de ausência para enviá-la."]
    assert form.errors["day0_closes"][0].startswith("O horário de abertura e o de fechamento são iguais.")
    assert form.errors["day1_opens"] == ["Informe o horário de abertura e o de fechamento."]
    assert "auto_close_hours" in form.errors
    page = response.content.decode()
    assert "Escreva a saudação para enviá-la." in page and "O horário de abertura e o de fechamento" in page
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


def test_one_api_request_gets_every_problem_at_once(api_a, api_b, company_a, instance_a):
    body = {"greeting_enabled": True, "opening_hours": [["09:00", "09:00"], ["9h", "18h"]] + [None] * 5}
    response = api_a.put(api_url(instance_a), body, format="json")
    assert response.status_code == 400 and response["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert errors["greeting_text"] == ["Write the greeting to send it."]
    assert errors["opening_hours"] == [
        "Day 1: the opening and the closing time are the same. For a day open around the clock, give 00:00 to 23:59.",
        'Day 2: write the hours as HH:MM, e.g. ["09:00", "18:00"].']
    assert api_b.put(api_url(instance_a), body, format="json").status_code == 404  # another company's instance
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


ALWAYS_AWAY = ("Every day is closed, so the away message will answer every message customers write, at any hour "
               "(once per conversation every 12 hours). Give the opening hours, or turn the away message off.")


def test_an_away_message_with_every_day_closed_is_allowed_with_a_warning_on_the_page_and_in_the_api(
        api_a, api_b, client_a, client_b, company_a, company_b, instance_a, instance_b):
    response = client_a.post(page_url(company_a, instance_a), {"time_zone": "America/Sao_Paulo",
                                                               "away_enabled": "on", "away_text": AWAY})
    assert response.status_code == 302  # no day ticked: closed all week, allowed
    page = client_a.get(page_url(company_a, instance_a)).content.decode()
    assert 'data-testid="away-warning"' in page and ALWAYS_AWAY in page
    page = client_a.get(page_url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Todos os dias estão fechados, então a mensagem de ausência vai responder a toda mensagem" in page
    assert api_a.get(api_url(instance_a)).json()["away_warning"] == ALWAYS_AWAY
    assert api_a.get(api_url(instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").json()["away_warning"].startswith(
        "Todos os dias estão fechados")
    # Another company's page and API show none of it, and its own instance has no warning.
    assert client_b.get(page_url(company_b, instance_a)).status_code == 404
    assert api_b.get(api_url(instance_a)).status_code == 404
    assert api_b.get(api_url(instance_b)).json()["away_warning"] is None
    # One open day, or the away message off, and the warning goes.
    response = api_a.put(api_url(instance_a), {"opening_hours": [["18:00", "02:00"]] + [None] * 6}, format="json")
    assert response.status_code == 200 and response.json()["away_warning"] is None
    assert 'data-testid="away-warning"' not in client_a.get(page_url(company_a, instance_a)).content.decode()
    api_a.put(api_url(instance_a), {"opening_hours": ALWAYS_CLOSED}, format="json")
    response = api_a.put(api_url(instance_a), {"away_enabled": False}, format="json")
    assert response.json()["away_warning"] is None
    assert 'data-testid="away-warning"' not in client_a.get(page_url(company_a, instance_a)).content.decode()


def test_agents_get_403_and_another_company_404(agent_client_a, client_b, company_a, company_b, instance_a):
    assert agent_client_a.get(page_url(company_a, instance_a)).status_code == 403
    assert client_b.get(page_url(company_a, instance_a)).status_code == 404  # A's slug: not B's company
    assert client_b.get(page_url(company_b, instance_a)).status_code == 404  # B's slug, A's instance
    assert client_b.post(page_url(company_b, instance_a), hours_post(greeting_enabled="on",
                                                                     greeting_text="x")).status_code == 404
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


# --- the API -------------------------------------------------------------------------------------------------


def api_url(instance) -> str:
    return f"/api/v1/instances/{instance.public_id}/automatic-replies"


def test_the_api_reads_and_changes_them_a_field_left_out_stays(api_a, company_a, instance_a):
    assert api_a.get(api_url(instance_a)).json() == {
        "greeting_enabled": False, "greeting_text": "", "away_enabled": False, "away_text": "",
        "time_zone": "America/Sao_Paulo", "opening_hours": [["09:00", "18:00"]] * 5 + [None, None],
        "auto_assign": False, "auto_close_hours": None, "assign_to": "all", "assign_members": [],
        "assign_warning": None, "away_warning": None}
    response = api_a.put(api_url(instance_a), {"greeting_enabled": True, "greeting_text": "Oi!"}, format="json")
    assert response.status_code == 200 and response.json()["greeting_enabled"] is True
    response = api_a.put(api_url(instance_a), {"away_enabled": True, "away_text": AWAY,
                                               "opening_hours": ALWAYS_CLOSED, "time_zone": "Europe/Lisbon"},
                         format="json")
    assert response.json() == {"greeting_enabled": True, "greeting_text": "Oi!", "away_enabled": True,
                               "away_text": AWAY, "time_zone": "Europe/Lisbon", "opening_hours": ALWAYS_CLOSED,
                               "auto_assign": False, "auto_close_hours": None, "assign_to": "all",
                               "assign_members": [], "assign_warning": None,
                               "away_warning": response.json()["away_warning"]}  # on, every day closed: a warning
    assert response.json()["away_warning"].startswith("Every day is closed")


@pytest.mark.parametrize(("body", "field"), [
    ({"greeting_enabled": True}, "greeting_text"),
    ({"time_zone": "Nowhere/Land"}, "time_zone"),
    ({"opening_hours": [["09:00", "25:00"]] + [None] * 6}, "opening_hours"),
    ({"opening_hours": "always"}, "opening_hours"),
    ({"greeting_enabled": "maybe"}, "greeting_enabled"),
])
def test_api_errors_are_problems_naming_the_field(api_a, company_a, instance_a, body, field):
    response = api_a.put(api_url(instance_a), body, format="json")
    assert response.status_code == 400 and response["content-type"].startswith("application/problem+json")
    assert field in response.json()["errors"], response.json()
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


def test_the_api_of_another_company_is_404_and_a_read_only_key_cannot_change(api_b, company_a, instance_a):
    assert api_b.get(api_url(instance_a)).status_code == 404
    assert api_b.put(api_url(instance_a), {"greeting_text": "x"}, format="json").status_code == 404
    reader = make_api_key(company=company_a, name="BI", scopes=["read"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {reader.secret}")
    assert client.get(api_url(instance_a)).status_code == 200
    assert client.put(api_url(instance_a), {"greeting_text": "x"}, format="json").status_code == 403
    with company_scope(company_a):
        assert not AutoReply.objects.exists()


# --- automatic assignment ------------------------------------------------------------------------------------


def assignees(company) -> dict[str, str | None]:
    with company_scope(company):
        return {conversation.contact.identifier: (conversation.assignee.email if conversation.assignee else None)
                for conversation in Conversation.objects.select_related("contact", "assignee")}


def test_each_new_conversation_goes_to_the_available_member_with_the_fewest_open(
        company_a, instance_a, owner_a, member_a, simulator, hooks, company_b, owner_b):
    configure(company_a, instance_a, auto_assign=True)
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")
    for number in ("5511900000001", "5511900000002", "5511900000003"):
        simulator.inbound(instance_a.gateway_name, **{"from": number, "text": "Oi"})
        hooks.deliver(instance_a)
    got = assignees(company_a)
    # Alice (the earlier member) first, then Adam (now fewer), then Alice again: two and one.
    assert sorted(got.values()) == ["adam@alpha.test", "alice@alpha.test", "alice@alpha.test"]
    assert got["5511900000001"] == "alice@alpha.test" and got["5511900000002"] == "adam@alpha.test"
    simulator.inbound(instance_a.gateway_name, **{"from": "5511900000001", "text": "de novo"})
    hooks.deliver(instance_a)
    assert assignees(company_a) == got  # an open conversation keeps its member; nobody from company B is chosen
    with company_scope(company_a):  # integrators are told, as for an assignment by hand
        told = [event.payload["data"]["conversation"]["assignee"]["name"]
                for event in WebhookEvent.objects.filter(type="conversation.assigned").order_by("pk")]
    assert told == ["Alice", "adam@alpha.test", "Alice"]


def test_an_away_member_gets_none_and_a_returning_conversation_leaves_an_away_one(
        company_a, instance_a, owner_a, member_a, simulator, hooks, client_a):
    configure(company_a, instance_a, auto_assign=True)
    response = client_a.post(f"/c/{company_a.slug}/settings/availability/", {"available": "0",
                                                                           "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == f"/c/{company_a.slug}/"  # never off-site
    for number in ("5511900000001", "5511900000002"):
        simulator.inbound(instance_a.gateway_name, **{"from": number, "text": "Oi"})
        hooks.deliver(instance_a)
    assert set(assignees(company_a).values()) == {"adam@alpha.test"}
    with company_scope(company_a):
        conversation = Conversation.objects.get(contact__identifier="5511900000001")
        services.conversation_set_status(company=company_a, conversation=conversation, status="closed")
        services.conversation_assign(company=company_a, conversation=conversation, assignee=owner_a)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511900000001", "text": "voltei"})
    hooks.deliver(instance_a)
    assert assignees(company_a)["5511900000001"] == "adam@alpha.test"  # Alice is away: the reopened one moves


def test_assignment_off_a_bots_contact_and_nobody_available_leave_it_unassigned(
        company_a, instance_a, owner_a, member_a, simulator, hooks):
    customer_writes(simulator, hooks, instance_a)
    assert set(assignees(company_a).values()) == {None}  # off by default
    configure(company_a, instance_a, auto_assign=True)
    with company_scope(company_a):
        Membership.objects.update(available=False)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511900000009", "text": "Oi"})
    hooks.deliver(instance_a)
    with company_scope(company_a):
        Membership.objects.update(available=True)
    platform(company_a, instance_a, "vendas", starting=True)
    simulator.inbound(instance_a.gateway_name, **{"from": "5511900000008", "text": "Oi"})
    hooks.deliver(instance_a)
    assert set(assignees(company_a).values()) == {None}


def test_the_menu_switch_shows_the_state_and_an_agent_may_use_it(agent_client_a, company_a, member_a, client_b):
    page = agent_client_a.get(f"/c/{company_a.slug}/", HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert 'data-available="true"' in page and "Disponível" in page
    agent_client_a.post(f"/c/{company_a.slug}/settings/availability/", {"available": "0", "next": "/c/alpha/inbox/"})
    page = agent_client_a.get(f"/c/{company_a.slug}/").content.decode()
    assert 'data-available="false"' in page
    with company_scope(company_a):
        assert Membership.objects.get(user=member_a).available is False
    assert client_b.post(f"/c/{company_a.slug}/settings/availability/", {"available": "0"}).status_code == 404


def test_the_menu_switch_goes_back_only_to_a_path_of_this_site(agent_client_a, company_a, member_a, client_b):
    """A `next` that is not a path ("inbox", "-1", tampered with) lands on the overview instead of a 500."""
    for back in ("inbox", "-1", "messaging:inbox", "//evil.example/"):
        response = agent_client_a.post(f"/c/{company_a.slug}/settings/availability/", {"available": "0", "next": back})
        assert response.status_code == 302 and response["Location"] == f"/c/{company_a.slug}/"
    response = agent_client_a.post(f"/c/{company_a.slug}/settings/availability/",
                                   {"available": "1", "next": f"/c/{company_a.slug}/inbox/?status=open"})
    assert response["Location"] == f"/c/{company_a.slug}/inbox/?status=open"
    with company_scope(company_a):
        assert Membership.objects.get(user=member_a).available is True
    response = client_b.post(f"/c/{company_a.slug}/settings/availability/", {"available": "0", "next": "-1"})
    assert response.status_code == 404


def test_the_page_and_the_api_switch_assignment(client_a, api_a, company_a, instance_a):
    assert api_a.get(api_url(instance_a)).json()["auto_assign"] is False
    assert api_a.put(api_url(instance_a), {"auto_assign": True}, format="json").json()["auto_assign"] is True
    instance_a.refresh_from_db()
    assert instance_a.auto_replies_on is True
    page = client_a.get(page_url(company_a, instance_a)).content.decode()
    assert 'data-testid="auto_assign" checked' not in page and 'checked data-testid="auto_assign"' in page
    client_a.post(page_url(company_a, instance_a), hours_post())  # the box unticked
    assert api_a.get(api_url(instance_a)).json()["auto_assign"] is False


def opened_by(simulator, hooks, instance, number: str) -> None:
    simulator.inbound(instance.gateway_name, **{"from": number, "text": "Oi"})
    hooks.deliver(instance)


def test_only_the_listed_members_take_the_instances_conversations_in_turn_among_equals(
        company_a, instance_a, owner_a, member_a, simulator, hooks):
    """Alice is not listed and gets none; Adam and Carol share them by open count, and on a tie the one who got one
    least recently is next (round robin), not the earlier member."""
    carol = make_member(company=company_a, email="carol@alpha.test", first_name="Carol").user
    configure(company_a, instance_a, auto_assign=True, assign_members=[member_a.public_id, str(carol.public_id)])
    for number in ("5511900000001", "5511900000002", "5511900000003"):
        opened_by(simulator, hooks, instance_a, number)
    got = assignees(company_a)
    assert [got[f"551190000000{n}"] for n in (1, 2, 3)] == ["adam@alpha.test", "carol@alpha.test", "adam@alpha.test"]
    with company_scope(company_a):  # Adam's first is done: one open each, and Carol got hers before Adam's last
        first = Conversation.objects.get(contact__identifier="5511900000001")
        services.conversation_set_status(company=company_a, conversation=first, status="closed")
    opened_by(simulator, hooks, instance_a, "5511900000004")
    assert assignees(company_a)["5511900000004"] == "carol@alpha.test"
    other = open_instance(company_a, simulator, "support")  # lists nobody: every member, Alice included
    configure(company_a, other, auto_assign=True)
    opened_by(simulator, hooks, other, "5511900000005")
    assert assignees(company_a)["5511900000005"] == "alice@alpha.test"


def test_members_are_named_by_user_id_and_anyone_else_is_refused_naming_the_field(
        company_a, company_b, instance_a, owner_a, member_a, owner_b):
    configure(company_a, instance_a, auto_assign=True, assign_members=[member_a.public_id])
    for wrong, message in (([owner_b.public_id], "is not a member of this company"),
                           (["nobody"], "is not a member id"),
                           ([member_a.public_id, "9a8b7c6d-2222-4000-8000-000000000002"], "not a member of this")):
        with pytest.raises(ValidationError) as error:
            configure(company_a, instance_a, assign_members=wrong, greeting_text="changed")
        assert message in " ".join(error.value.message_dict["assign_members"])
    with company_scope(company_a):
        reply = AutoReply.objects.get(instance=instance_a)
        assert reply.greeting_text == ""  # nothing written
        assert auto_replies.assign_member_ids(company=company_a, reply=reply) == [member_a.public_id]
    configure(company_a, instance_a, assign_members=[])
    with company_scope(company_a):
        assert auto_replies.assign_member_ids(company=company_a, reply=reply) == []


def test_the_api_lists_and_sets_the_members_and_refuses_another_companys(
        api_a, api_b, company_a, instance_a, owner_a, member_a, owner_b):
    assert api_a.get(api_url(instance_a)).json()["assign_members"] == []
    both = [str(owner_a.public_id), str(member_a.public_id)]
    response = api_a.put(api_url(instance_a), {"auto_assign": True, "assign_members": both}, format="json")
    assert response.status_code == 200 and sorted(response.json()["assign_members"]) == sorted(both)
    for wrong in ([str(owner_b.public_id)], ["x"], "everyone"):
        response = api_a.put(api_url(instance_a), {"assign_members": wrong}, format="json")
        assert response.status_code == 400 and "assign_members" in response.json()["errors"], response.json()
    response = api_a.put(api_url(instance_a), {"assign_members": [str(owner_b.public_id)]}, format="json")
    assert f"“{owner_b.public_id}” is not a member of this company." in response.json()["errors"]["assign_members"]
    assert sorted(api_a.get(api_url(instance_a)).json()["assign_members"]) == sorted(both)  # unchanged
    assert api_b.put(api_url(instance_a), {"assign_members": [str(owner_b.public_id)]},
                     format="json").status_code == 404
    assert api_a.put(api_url(instance_a), {"assign_members": []}, format="json").json()["assign_members"] == []


def test_the_page_offers_the_companys_members_and_saves_the_ticked_ones(
        client_a, client_b, company_a, company_b, instance_a, owner_a, member_a, owner_b):
    page = client_a.get(page_url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Membros que recebem as conversas deste número" in page
    assert f'value="{member_a.public_id}"' in page and str(owner_b.public_id) not in page
    response = client_a.post(page_url(company_a, instance_a), hours_post(auto_assign="on",
                                                                       assign_members=[str(member_a.public_id)]))
    assert response.status_code == 302
    page = client_a.get(page_url(company_a, instance_a)).content.decode()
    assert f'value="{member_a.public_id}" id="id_assign_members_0" class="form-check-input" checked' in page
    response = client_a.post(page_url(company_a, instance_a), hours_post(assign_members=[str(owner_b.public_id)]))
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert client_b.post(page_url(company_b, instance_a), hours_post(
        assign_members=[str(owner_b.public_id)])).status_code == 404
    with company_scope(company_a):
        reply = AutoReply.objects.get(instance=instance_a)
        assert reply.auto_assign is True
        assert auto_replies.assign_member_ids(company=company_a, reply=reply) == [member_a.public_id]


STRANDED = "Nobody on this number's list of members is still in the company"


def test_an_instance_whose_listed_members_all_left_assigns_nobody_and_tells_the_admin(
        client_a, api_a, api_b, company_a, instance_a, owner_a, member_a, simulator, hooks):
    """Adam, the only member listed for the number, leaves the company (his list row goes with the membership): the
    number does not start giving its conversations to everybody (Alice), it leaves them unassigned, and the page and
    the API say why. Another number, for every member, goes on assigning."""
    configure(company_a, instance_a, auto_assign=True, assign_members=[member_a.public_id])
    with company_scope(company_a):
        memberships = Membership.objects.select_related("user")
        tenant_services.membership_remove(company=company_a, actor=memberships.get(user=owner_a),
                                          membership=memberships.get(user=member_a))
    opened_by(simulator, hooks, instance_a, "5511900000001")
    assert assignees(company_a) == {"5511900000001": None}
    body = api_a.get(api_url(instance_a)).json()
    assert (body["assign_to"], body["assign_members"]) == ("listed", [])
    assert body["assign_warning"].startswith(STRANDED)
    assert api_a.get(api_url(instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").json()["assign_warning"].startswith(
        "Ninguém da lista de membros deste número")
    page = client_a.get(page_url(company_a, instance_a)).content.decode()
    assert 'data-testid="assign-warning"' in page and STRANDED.replace("'", "&#x27;") in page
    assert 'value="listed" id="id_assign_to_1" class="form-check-input" checked' in page
    # Saving something else keeps it as it is (nobody chose "listed" with nobody just now), warning and all.
    response = api_a.put(api_url(instance_a), {"greeting_text": "Oi!"}, format="json")
    assert response.status_code == 200 and response.json()["assign_warning"].startswith(STRANDED)
    assert client_a.post(page_url(company_a, instance_a), hours_post(
        auto_assign="on", assign_to="listed", greeting_text="Olá")).status_code == 302
    assert api_b.get(api_url(instance_a)).status_code == 404  # another company learns nothing of it
    other = open_instance(company_a, simulator, "support")
    configure(company_a, other, auto_assign=True)
    opened_by(simulator, hooks, other, "5511900000002")
    assert assignees(company_a)["5511900000002"] == "alice@alpha.test"
    response = api_a.put(api_url(instance_a), {"assign_to": "all"}, format="json")  # the admin decides
    assert response.json()["assign_warning"] is None
    opened_by(simulator, hooks, instance_a, "5511900000003")
    assert assignees(company_a)["5511900000003"] == "alice@alpha.test"


@pytest.mark.parametrize(("body", "field", "message"), [
    ({"assign_to": "listed", "assign_members": []}, "assign_members", "Choose at least one member"),
    ({"assign_to": "listed"}, "assign_members", "Choose at least one member"),
    ({"assign_to": "all", "assign_members": ["MEMBER"]}, "assign_members", "Every member takes"),
    ({"assign_to": "some"}, "assign_to", "is not a valid choice"),
    ({"assign_to": "listed", "assign_members": ["OWNER_B"]}, "assign_members", "is not a member of this company"),
])
def test_the_api_refuses_a_listed_choice_with_nobody_and_members_for_everybody(
        api_a, company_a, instance_a, member_a, owner_b, body, field, message):
    configure(company_a, instance_a, auto_assign=True, greeting_text="Oi")
    ids = {"MEMBER": str(member_a.public_id), "OWNER_B": str(owner_b.public_id)}
    body = {key: [ids[value] for value in values] if key == "assign_members" else values
            for key, values in body.items()}
    response = api_a.put(api_url(instance_a), {**body, "greeting_text": "changed"}, format="json")
    assert response.status_code == 400 and response["content-type"].startswith("application/problem+json")
    assert message in " ".join(response.json()["errors"][field]), response.json()
    after = api_a.get(api_url(instance_a)).json()
    assert (after["assign_to"], after["assign_members"], after["greeting_text"]) == ("all", [], "Oi")


def test_the_page_chooses_every_member_or_the_ticked_ones_and_refuses_none_ticked(
        client_a, client_b, company_a, company_b, instance_a, member_a, owner_b):
    response = client_a.post(page_url(company_a, instance_a), hours_post(assign_to="listed"),
                             HTTP_ACCEPT_LANGUAGE="pt-br")
    assert response.status_code == 400
    assert "Escolha pelo menos um membro" in response.content.decode()
    assert client_a.post(page_url(company_a, instance_a), hours_post(
        assign_to="listed", assign_members=[str(member_a.public_id)])).status_code == 302
    with company_scope(company_a):
        reply = AutoReply.objects.get(instance=instance_a)
        assert (reply.assign_to, auto_replies.assign_member_ids(company=company_a, reply=reply)) == (
            "listed", [member_a.public_id])
    # "Every member" with boxes still ticked: the ticks were hidden choices, not a contradiction, and go.
    assert client_a.post(page_url(company_a, instance_a), hours_post(
        assign_to="all", assign_members=[str(member_a.public_id)])).status_code == 302
    with company_scope(company_a):
        reply.refresh_from_db()
        assert (reply.assign_to, auto_replies.assign_member_ids(company=company_a, reply=reply)) == ("all", [])
    page = client_a.get(page_url(company_a, instance_a), HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Somente os membros marcados abaixo" in page and 'data-testid="assign-warning"' not in page
    response = client_a.post(page_url(company_a, instance_a), hours_post(
        assign_to="listed", assign_members=[str(owner_b.public_id)]))
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert client_b.post(page_url(company_b, instance_a), hours_post(assign_to="listed", assign_members=[
        str(owner_b.public_id)])).status_code == 404
    with company_scope(company_a):
        reply.refresh_from_db()
        assert reply.assign_to == "all"


def test_the_migration_keeps_what_each_instance_meant(company_a, instance_a, member_a):
    """Before the mode existed, listed members meant only them and none meant every member."""
    migration = importlib.import_module("messaging.migrations.0014_autoreply_assign_to")
    listed = configure(company_a, instance_a, assign_members=[member_a.public_id])
    everyone = configure(company_a, make_instance(company=company_a), auto_assign=True)
    AutoReply.all_companies.update(assign_to="all")  # as the new column starts
    state = MigrationLoader(connection).project_state(("messaging", "0014_autoreply_assign_to"))
    migration.listed_where_members_are_listed(state.apps, None)  # the historical models, as `migrate` runs it
    with company_scope(company_a):
        assert dict(AutoReply.objects.values_list("pk", "assign_to")) == {listed.pk: "listed", everyone.pk: "all"}


def _customer_message(number: str) -> MessageReceived:
    return MessageReceived(event="messages.upsert", instance="sales", message_id=f"race-{number}",
                           remote_jid=f"{number}@s.whatsapp.net", phone_jid=f"{number}@s.whatsapp.net", lid=None,
                           from_me=False, kind="text", message_type="conversation", timestamp=timezone.now(),
                           push_name="Cliente", text="Oi")


@pytest.mark.django_db(transaction=True)
def test_two_conversations_opened_at_the_same_instant_go_to_two_equal_members(company_a, owner_a, member_a):
    """Two drains (two instances of the company) each open a conversation at once. The first has chosen Alice and
    not committed; the second, choosing while it holds, must wait for that choice instead of reading the counts
    without it (both would then pick Alice, the earlier of two members with none open)."""
    first_line, second_line = make_instance(company=company_a, name="sales"), make_instance(company=company_a)
    for instance in (first_line, second_line):
        configure(company_a, instance, auto_assign=True)
        instance.refresh_from_db()
    def open_one(instance, number: str) -> None:
        with company_scope(company_a):
            assert message_record_inbound(company=company_a, instance=instance, event=_customer_message(number))

    def second() -> None:
        with transaction.atomic():
            open_one(second_line, "5511900000002")

    # The first holds its choice until the second drain waits for this transaction.
    assert while_a_transaction_holds(lambda: open_one(first_line, "5511900000001"),
                                     release=wait_until_another_waits_for_a_lock, meanwhile=second) == []
    assert assignees(company_a) == {"5511900000001": "alice@alpha.test", "5511900000002": "adam@alpha.test"}


_ASSIGN_ON_SQLITE = """
import json, django
django.setup()
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
call_command("migrate", verbosity=0)
from django.contrib.auth import get_user_model
from instances.gateways.events import MessageReceived
from instances.models import GatewayServer, Instance
from messaging import auto_replies
from messaging.inbound import message_record_inbound
from tenants import services
from tenants.models import Company
from tenants.scoping import company_scope

company = Company.objects.create(name="Alpha", slug="alpha")
users = [get_user_model().objects.create_user(username=email, email=email, password="x")
         for email in ("alice@alpha.test", "adam@alpha.test")]
for user in users:
    services.member_add(company=company, user=user, role="agent")
server = GatewayServer.objects.create(name="gw", base_url="http://127.0.0.1:9", api_key="k", hook_secret="s",
                                      hook_secret_hash="sqlite-assign")
got = []
with company_scope(company):
    instance = Instance.objects.create(company=company, server=server, name="sales", gateway_name="alpha_sales",
                                       token="t", webhook_secret_hash="alpha-sales")
    auto_replies.auto_reply_update(company=company, instance=instance, auto_assign=True)
    instance.refresh_from_db()
    for number in ("5511900000001", "5511900000002"):
        event = MessageReceived(event="messages.upsert", instance="sales", message_id=number,
                                remote_jid=number + "@s.whatsapp.net", phone_jid=number + "@s.whatsapp.net",
                                lid=None, from_me=False, kind="text", message_type="conversation",
                                timestamp=timezone.now(), push_name="Cliente", text="Oi")
        with transaction.atomic():
            message = message_record_inbound(company=company, instance=instance, event=event)
        got.append(message.conversation.assignee.email if message.conversation.assignee else None)
print(json.dumps(got))
"""


def test_assignment_works_on_sqlite_where_writers_already_take_turns(tmp_path):
    """`make run`'s SQLite has no advisory lock (its IMMEDIATE transactions already order the writers): the choice
    skips it and still gives two conversations to two equal members, and the migrations apply there."""
    result = run_django(["-c", _ASSIGN_ON_SQLITE], DJANGO_ENV="development", RECADO_VAR_DIR=str(tmp_path),
                        REDIS_URL=settings.REDIS_URL, CACHE_KEY_PREFIX=f"sqlite-test-{tmp_path.name}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["alice@alpha.test", "adam@alpha.test"]


# --- closing inactive conversations --------------------------------------------------------------------------


def aged(company, instance, number: str, *, hours: float, status: str = "open", unread: int = 0) -> Conversation:
    with company_scope(company):
        contact = make_contact(company=company, instance=instance, identifier=number)
        return Conversation.objects.create(company=company, instance=instance, contact=contact, status=status,
                                           unread_count=unread,
                                           last_message_at=timezone.now() - timedelta(hours=hours))


def statuses(company) -> dict[str, str]:
    with company_scope(company):
        return dict(Conversation.objects.values_list("contact__identifier", "status"))


def test_conversations_quiet_for_the_set_hours_with_nothing_unread_are_closed(
        company_a, instance_a, company_b, instance_b, simulator):
    configure(company_a, instance_a, auto_close_hours=2)
    configure(company_b, instance_b, auto_close_hours=48)
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp")
    aged(company_a, instance_a, "5511900000001", hours=3)  # quiet, nothing unread: closed
    aged(company_a, instance_a, "5511900000002", hours=3, unread=1)  # the customer waits for us: stays open
    aged(company_a, instance_a, "5511900000003", hours=1)  # not quiet long enough
    aged(company_a, instance_a, "5511900000004", hours=30, status="pending")  # only open ones
    other = make_instance(company=company_a, name="support")  # no setting: never
    aged(company_a, other, "5511900000005", hours=300)
    aged(company_b, instance_b, "5511900000001", hours=3)  # company B asked for 48 hours
    assert close_inactive_conversations.apply().get() == 2  # the beat enqueues one run per company that wants it
    assert close_inactive_for_company.apply(args=[company_a.pk]).get() == 1  # each as its worker runs it
    assert close_inactive_for_company.apply(args=[company_b.pk]).get() == 0
    with company_scope(company_a):
        assert auto_replies.close_inactive(company=company_a) == 0  # what that run closed is closed
    assert statuses(company_a) == {"5511900000001": "closed", "5511900000002": "open", "5511900000003": "open",
                                   "5511900000004": "pending", "5511900000005": "open"}
    assert statuses(company_b) == {"5511900000001": "open"}
    with company_scope(company_a):
        told = list(WebhookEvent.objects.filter(type="conversation.closed").values_list("type", flat=True))
    assert told == ["conversation.closed"]


def test_closing_settings_are_checked_and_switched_off_with_0_or_null(api_a, client_a, company_a, instance_a):
    for bad in (721, -1, "soon"):
        response = api_a.put(api_url(instance_a), {"auto_close_hours": bad}, format="json")
        assert response.status_code == 400 and "auto_close_hours" in response.json()["errors"]
    assert api_a.put(api_url(instance_a), {"auto_close_hours": 24}, format="json").json()["auto_close_hours"] == 24
    assert api_a.put(api_url(instance_a), {"auto_close_hours": None}, format="json").json()["auto_close_hours"] is None
    response = client_a.post(page_url(company_a, instance_a), hours_post(auto_close_hours="12"))
    assert response.status_code == 302
    assert api_a.get(api_url(instance_a)).json()["auto_close_hours"] == 12
    response = client_a.post(page_url(company_a, instance_a), hours_post(auto_close_hours="9999"))
    assert response.status_code == 400 and "Give between 1 and 720 hours" in response.content.decode()
