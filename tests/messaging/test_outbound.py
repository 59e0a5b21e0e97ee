"""Outbound: messages queued in a transaction, sent by the drain exactly once, against the real simulator."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations import services as integration_services
from integrations.models import WebhookEvent
from messaging import outbound, services, throttle
from messaging.models import Conversation, Message
from messaging.services import Outgoing
from tenants.scoping import company_scope
from tests.messaging.sending import drain
from tests.messaging.sending import send_now as send
from tests.simulator.fixtures import wait_until

pytestmark = pytest.mark.django_db

CUSTOMER = "5511955554444"
GROUP = "120363025246125486@g.us"


@pytest.fixture
def conversation_a(company_a, instance_a) -> Conversation:
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance_a, recipient=CUSTOMER)
        conversation, _created = services.conversation_start(company=company_a, instance=instance_a, contact=contact)
    return conversation


def queue(company, conversation, hooks, outgoing: Outgoing, **options) -> Message:
    """message_send inside the company scope; the after-commit enqueue is captured, not run (the test runs it)."""
    with company_scope(company), hooks.capture() as callbacks:
        message, created = services.message_send(company=company, conversation=conversation, outgoing=outgoing,
                                                 sender_type="agent", sender_label="Alice", **options)
    assert created == bool(callbacks)
    return message


def reload(company, message) -> Message:
    with company_scope(company):
        return Message.objects.get(pk=message.pk)


def backoff_passed(company, message) -> None:
    with company_scope(company):
        Message.objects.filter(pk=message.pk).update(retry_at=timezone.now() - timedelta(seconds=1))


def retry_in(company, message) -> float:
    """Seconds until the message may be sent again (its backoff, or the end of its claim's lease)."""
    row = reload(company, message)
    return ((row.retry_at or row.claimed_until) - timezone.now()).total_seconds()


def sent_types(simulator, instance) -> list[str]:
    return [entry["message_type"] for entry in simulator.sent(instance.gateway_name)]


def sample(simulator) -> str:
    return f"{simulator.base_url}/_sim/media/sample.png"


EVERY_KIND = [
    (lambda sim: Outgoing(kind="text", text="Olá"), "conversation"),
    (lambda sim: Outgoing(kind="image", media_url=sample(sim), text="legenda"), "imageMessage"),
    (lambda sim: Outgoing(kind="image", media_base64=base64.b64encode(b"\x89PNG fake").decode(),
                          filename="foto.png", mimetype="image/png"), "imageMessage"),
    (lambda sim: Outgoing(kind="video", media_url=sample(sim), mimetype="video/mp4"), "videoMessage"),
    (lambda sim: Outgoing(kind="document", media_url=sample(sim), filename="nota.pdf",
                          mimetype="application/pdf"), "documentMessage"),
    (lambda sim: Outgoing(kind="audio", media_url=sample(sim), mimetype="audio/mpeg"), "audioMessage"),
    (lambda sim: Outgoing(kind="audio", media_url=sample(sim), voice=True), "audioMessage"),
    (lambda sim: Outgoing(kind="sticker", media_url=sample(sim)), "stickerMessage"),
    (lambda sim: Outgoing(kind="location", latitude=-23.55, longitude=-46.63, location_name="Loja",
                          location_address="Av. Paulista"), "locationMessage"),
    (lambda sim: Outgoing(kind="contact", contacts=({"full_name": "João", "phone_number": "5511912345678"},)),
     "contactMessage"),
    (lambda sim: Outgoing(kind="interactive", interactive={
        "type": "list", "title": "Menu", "button_text": "Ver", "footer": "rodapé",
        "sections": [{"title": "Pizzas", "rows": [{"title": "Calabresa", "id": "p1"}]}]}), "listMessage"),
    (lambda sim: Outgoing(kind="interactive", interactive={
        "type": "buttons", "title": "Confirma?", "buttons": [{"text": "Sim", "id": "yes"}]}), "interactiveMessage"),
]


@pytest.mark.parametrize(("make", "message_type"), EVERY_KIND)
def test_every_kind_is_sent_once(company_a, instance_a, conversation_a, simulator, hooks, make, message_type):
    message = queue(company_a, conversation_a, hooks, make(simulator))
    assert reload(company_a, message).status == "queued"
    assert send(company_a, message) == "sent"
    assert send(company_a, message) == "skipped"  # a duplicated task
    assert sent_types(simulator, instance_a) == [message_type]
    message = reload(company_a, message)
    assert message.status == "sent" and message.gateway_message_id and message.sent_at and message.attempts == 1


def test_reply_and_reaction_name_their_target(company_a, instance_a, conversation_a, simulator, hooks):
    first = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="pergunta"))
    send(company_a, first)
    first = reload(company_a, first)
    reply = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="resposta", quoted=first))
    reaction = queue(company_a, conversation_a, hooks, Outgoing(kind="reaction", reaction_target=first, emoji="👍"))
    assert send(company_a, reply) == "sent"  # one drain run sends both, in order
    assert reload(company_a, reaction).status == "sent"
    sent = simulator.sent(instance_a.gateway_name)
    echoes = [event["body"]["data"] for event in simulator.events(instance_a.gateway_name)
              if event["config_name"] == "SEND_MESSAGE"]
    assert echoes[1]["contextInfo"]["stanzaId"] == first.gateway_message_id
    assert sent[2]["message_type"] == "reactionMessage"
    assert sent[2]["message"]["reactionMessage"]["key"]["id"] == first.gateway_message_id


def test_send_to_a_group(company_a, instance_a, simulator, hooks):
    with company_scope(company_a):
        contact = services.contact_for_recipient(company=company_a, instance=instance_a, recipient=GROUP)
        conversation, _ = services.conversation_start(company=company_a, instance=instance_a, contact=contact)
    message = queue(company_a, conversation, hooks, Outgoing(kind="text", text="bom dia grupo"))
    assert send(company_a, message) == "sent"
    assert simulator.sent(instance_a.gateway_name)[0]["remote_jid"] == GROUP


def test_redelivered_after_the_worker_died_mid_claim_sends_once(company_a, instance_a, conversation_a, simulator,
                                                                 hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="once"))
    with company_scope(company_a):
        # The first worker claimed it and died before calling the gateway.
        Message.objects.filter(pk=message.pk).update(status="sending", claimed_until=timezone.now() + timedelta(
            seconds=30), attempts=1)
    run = drain(company_a, message)  # redelivered early: nothing to send until the lease ends, then back
    assert run.handled == 0 and 25 < (run.next_due - timezone.now()).total_seconds() <= 30
    assert sent_types(simulator, instance_a) == []
    with company_scope(company_a):
        Message.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert send(company_a, message) == "sent"
    assert send(company_a, message) == "skipped"
    assert sent_types(simulator, instance_a) == ["conversation"]


def died_after_the_gateway_accepted(company, message) -> str:
    """A worker claimed the message, the gateway accepted its send, and the worker died before recording it."""
    with company_scope(company):
        Message.objects.filter(pk=message.pk).update(status="sending", attempts=1,
                                                     claimed_until=timezone.now() + services.CLAIM_LEASE)
        claimed = Message.objects.select_related("instance__server", "conversation__contact").get(pk=message.pk)
        return services.gateway_call(claimed).message_id  # the real send, through the adapter


def lease_expired(company, message) -> None:
    with company_scope(company):
        Message.objects.filter(pk=message.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))


def sent_ids(simulator, instance) -> list[str]:
    return [entry["id"] for entry in simulator.sent(instance.gateway_name)]


def test_a_send_the_gateway_accepted_before_the_worker_died_is_recorded_not_sent_again(
        company_a, instance_a, conversation_a, simulator, hooks):
    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp",
                                             event_types=["message.sent", "message.status"])
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Seu pedido saiu"))
    accepted = died_after_the_gateway_accepted(company_a, message)
    hooks.deliver(instance_a)  # the gateway's echo, while the message is still `sending`: not a second message
    lease_expired(company_a, message)
    assert send(company_a, message) == "sent"  # the redelivered task
    assert send(company_a, message) == "skipped"
    assert sent_ids(simulator, instance_a) == [accepted]  # the customer got it once
    message = reload(company_a, message)
    assert (message.status, message.gateway_message_id, message.attempts) == ("sent", accepted, 2)
    assert message.remote_jid == f"{CUSTOMER}@s.whatsapp.net" and message.sent_at and not message.error
    # The echo arriving again later, then a tick: one message, moving forward as usual.
    echo = [event["body"] for event in simulator.events(instance_a.gateway_name)
            if event["config_name"] == "SEND_MESSAGE"]
    simulator.set_status(instance_a.gateway_name, accepted, "DELIVERY_ACK")
    hooks.deliver(instance_a, echo + hooks.new_bodies(instance_a))
    with company_scope(company_a):
        assert Message.objects.count() == 1
        assert list(WebhookEvent.objects.order_by("pk").values_list("type", flat=True)) == [
            "message.sent", "message.status"]
    assert reload(company_a, message).status == "delivered"


def test_the_echo_of_a_send_in_flight_is_told_without_looking_its_sender_up(company_a, instance_a, conversation_a,
                                                                           company_b, instance_b, simulator, hooks):
    """While our send waits for its answer, the gateway's echo of it is recognised by the send in flight to that
    number: no contact or conversation lookup, nothing stored. Company B's send in flight to the same number
    does not hide an echo on company A's instance: that one (another app sending through A's number) is stored."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="em voo"))
    died_after_the_gateway_accepted(company_a, message)
    with CaptureQueriesContext(connection) as queries:
        hooks.deliver(instance_a)
    assert not [query for query in queries.captured_queries if 'FROM "contacts_contact' in query["sql"]]
    with company_scope(company_a):
        assert list(Message.objects.values_list("pk", "status")) == [(message.pk, "sending")]

    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        chat_b = services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)[0]
    theirs = queue(company_b, chat_b, hooks, Outgoing(kind="text", text="deles"))
    died_after_the_gateway_accepted(company_b, theirs)
    lease_expired(company_a, message)
    assert send(company_a, message) == "sent"  # A's own send recorded: nothing of A's in flight any more
    other_app = simulator.api("POST", f"/message/sendText/{instance_a.gateway_name}",
                              {"number": CUSTOMER, "text": "de outro sistema"})
    assert other_app.status_code == 201, other_app.text
    hooks.deliver(instance_a)
    with company_scope(company_a):
        assert list(Message.objects.order_by("pk").values_list("text", "status")) == [
            ("em voo", "sent"), ("de outro sistema", "sent")]


@pytest.mark.parametrize(("make", "message_type"), EVERY_KIND)
def test_every_kind_already_accepted_is_recognised(company_a, instance_a, conversation_a, simulator, hooks, make,
                                                   message_type):
    message = queue(company_a, conversation_a, hooks, make(simulator))
    accepted = died_after_the_gateway_accepted(company_a, message)
    lease_expired(company_a, message)
    assert send(company_a, message) == "sent"
    assert sent_types(simulator, instance_a) == [message_type]
    assert reload(company_a, message).gateway_message_id == accepted


def test_reconciling_takes_no_identical_text_sent_before_the_claim_or_recorded_on_another_message(
        company_a, instance_a, conversation_a, simulator, hooks):
    earlier = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="ok"))
    assert send(company_a, earlier) == "sent"
    # The same text typed on the phone ten minutes ago, before the claim (its webhook never reached us).
    simulator.inbound(instance_a.gateway_name, from_me=True, to=CUSTOMER, text="ok", timestamp=int(time.time()) - 600)
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="ok"))
    with company_scope(company_a):  # claimed, then the worker died before calling the gateway
        Message.objects.filter(pk=message.pk).update(status="sending", attempts=1,
                                                     claimed_until=timezone.now() - timedelta(seconds=1))
    assert send(company_a, message) == "sent"
    first, second = sent_ids(simulator, instance_a)
    assert reload(company_a, earlier).gateway_message_id == first
    assert reload(company_a, message).gateway_message_id == second  # sent: neither old record was taken


def test_another_companys_identical_send_never_matches(company_a, instance_a, conversation_a, company_b,
                                                      instance_b, simulator, hooks):
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        conversation_b, _ = services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)
    theirs = queue(company_b, conversation_b, hooks, Outgoing(kind="text", text="Promoção de hoje"))
    their_send = died_after_the_gateway_accepted(company_b, theirs)  # accepted, never recorded by company B
    ours = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="Promoção de hoje"))
    with company_scope(company_a):
        Message.objects.filter(pk=ours.pk).update(status="sending", attempts=1,
                                                  claimed_until=timezone.now() - timedelta(seconds=1))
    assert send(company_a, ours) == "sent"
    assert len(sent_ids(simulator, instance_a)) == 1
    assert reload(company_a, ours).gateway_message_id == sent_ids(simulator, instance_a)[0] != their_send
    lease_expired(company_b, theirs)
    assert send(company_b, theirs) == "sent"
    assert sent_ids(simulator, instance_b) == [their_send] == [reload(company_b, theirs).gateway_message_id]


def test_when_the_gateway_cannot_say_what_it_sent_the_lookup_retries_and_never_sends_blind(
        company_a, instance_a, conversation_a, simulator, hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="confirmado"))
    accepted = died_after_the_gateway_accepted(company_a, message)
    lease_expired(company_a, message)
    simulator.fail_next(instance_a.gateway_name, count=1, mode="server_error", scope="any")
    run = drain(company_a, message)
    assert run.handled == 1 and 3.9 <= retry_in(company_a, message) <= 6  # backoff after the second attempt
    assert run.next_due == reload(company_a, message).retry_at  # its drain comes back for it
    row = reload(company_a, message)
    assert (row.status, row.attempts) == ("sending", 2) and row.claimed_until < timezone.now()
    assert sent_ids(simulator, instance_a) == [accepted]
    assert drain(company_a, message).handled == 0  # not before its backoff
    backoff_passed(company_a, message)
    assert send(company_a, message) == "sent"
    assert sent_ids(simulator, instance_a) == [accepted]
    assert reload(company_a, message).gateway_message_id == accepted


def test_a_lookup_that_keeps_failing_ends_failed_without_sending(company_a, instance_a, conversation_a, simulator,
                                                                hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="talvez"))
    accepted = died_after_the_gateway_accepted(company_a, message)
    with company_scope(company_a):
        Message.objects.filter(pk=message.pk).update(attempts=services.MAX_ATTEMPTS - 1,
                                                     claimed_until=timezone.now() - timedelta(seconds=1))
    simulator.fail_next(instance_a.gateway_name, count=5, mode="connection_closed", scope="any")
    assert send(company_a, message) == "failed"
    assert "Connection Closed" in reload(company_a, message).error
    assert sent_ids(simulator, instance_a) == [accepted]


def test_when_the_gateway_cannot_list_what_it_sent_the_send_goes_ahead(company_a, instance_a, conversation_a,
                                                                      simulator, hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="pelo menos uma vez"))
    with company_scope(company_a):  # claimed, then the worker died before calling the gateway
        Message.objects.filter(pk=message.pk).update(status="sending", attempts=1,
                                                     claimed_until=timezone.now() - timedelta(seconds=1))
    simulator.fail_next(instance_a.gateway_name, count=1, mode="refused", scope="any", message="Cannot list")
    assert send(company_a, message) == "sent"  # at least once
    assert len(sent_ids(simulator, instance_a)) == 1


def test_a_send_without_an_answer_is_looked_up_after_the_lease_not_sent_again(company_a, instance_a, conversation_a,
                                                                              simulator, hooks, monkeypatch):
    monkeypatch.setattr(services, "SEND_TIMEOUT", 0.5)
    simulator.fail_next(instance_a.gateway_name, mode="timeout", seconds=1)  # answers late, but sends
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="sem resposta"))
    run = drain(company_a, message)
    assert run.handled == 1 and 115 < retry_in(company_a, message) <= 120  # looked up when the lease ends
    assert run.next_due == reload(company_a, message).claimed_until
    assert reload(company_a, message).status == "sending"
    wait_until(lambda: len(sent_ids(simulator, instance_a)) == 1, timeout=5)
    lease_expired(company_a, message)
    assert send(company_a, message) == "sent"
    assert sent_ids(simulator, instance_a) == [reload(company_a, message).gateway_message_id]


def test_transient_failures_retry_with_backoff_then_send(company_a, instance_a, conversation_a, simulator, hooks):
    simulator.fail_next(instance_a.gateway_name, count=2, mode="server_error")
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="persist"))
    delays = []
    for _attempt in range(2):
        assert send(company_a, message) == "queued"
        delays.append(retry_in(company_a, message))
        backoff_passed(company_a, message)
    assert send(company_a, message) == "sent"
    assert 1.9 <= delays[0] <= 4 and 3.9 <= delays[1] <= 6  # exponential, with jitter
    assert sent_types(simulator, instance_a) == ["conversation"]
    assert reload(company_a, message).attempts == 3


def test_transient_failures_are_bounded_then_failed_with_the_reason(company_a, instance_a, conversation_a,
                                                                    simulator, hooks):
    simulator.fail_next(instance_a.gateway_name, count=20, mode="connection_closed")
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="never"))
    outcomes = []
    for _attempt in range(services.MAX_ATTEMPTS):
        outcomes.append(send(company_a, message))
        backoff_passed(company_a, message)
    assert outcomes == ["queued"] * (services.MAX_ATTEMPTS - 1) + ["failed"]
    message = reload(company_a, message)
    assert message.status == "failed" and "Connection Closed" in message.error and message.failed_at


def test_a_refusal_fails_at_once_and_retry_sends_it(company_a, instance_a, conversation_a, simulator, hooks):
    simulator.fail_next(instance_a.gateway_name, count=1, mode="not_on_whatsapp", number=CUSTOMER)
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="hello?"))
    assert send(company_a, message) == "failed"
    message = reload(company_a, message)
    assert (message.status, message.error) == ("failed", "This number is not on WhatsApp.")
    with company_scope(company_a), hooks.capture() as callbacks:
        services.message_retry(company=company_a, message=message)
    assert len(callbacks) == 2 and reload(company_a, message).status == "queued"  # the send and the live push
    assert send(company_a, message) == "sent"
    with company_scope(company_a), pytest.raises(services.MessagingError):
        services.message_retry(company=company_a, message=reload(company_a, message))


def test_idempotency_key_returns_the_first_message(company_a, conversation_a, hooks):
    first = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="one"), idempotency_key="order-42")
    again = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="one"), idempotency_key="order-42")
    assert first.pk == again.pk
    with company_scope(company_a):
        assert Message.objects.count() == 1


def test_invalid_messages_are_refused(company_a, conversation_a, hooks):
    for outgoing in (Outgoing(kind="text", text="  "), Outgoing(kind="image"), Outgoing(kind="location"),
                     Outgoing(kind="nonsense"), Outgoing(kind="image", media_base64="***")):
        with company_scope(company_a), pytest.raises(ValidationError):
            services.message_send(company=company_a, conversation=conversation_a, outgoing=outgoing,
                                  sender_type="agent")
    with company_scope(company_a):
        assert not Message.objects.exists()


def test_a_throttled_drain_sends_nothing_and_comes_back_when_a_token_is_there(company_a, instance_a,
                                                                             conversation_a, simulator, hooks,
                                                                             settings):
    """The bucket itself (atomic across threads and processes) is tests/tenants/test_token_bucket.py's."""
    settings.MESSAGING_SEND_RATE_PER_MINUTE = 12  # a bucket of one token, refilled every five seconds
    assert throttle.take(instance_a.pk) == 0 and 0 < throttle.take(instance_a.pk) <= 5  # the one token is gone
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="throttled"))
    run = drain(company_a, message)
    assert run.handled == 0 and 0 < run.again_in <= 5  # its task comes back when a token is there
    assert reload(company_a, message).status == "queued"
    assert sent_types(simulator, instance_a) == []


def test_drains_of_one_instance_share_its_throttle(company_a, instance_a, simulator, hooks, settings):
    settings.MESSAGING_SEND_RATE_PER_MINUTE = 24  # a bucket of two tokens, one more every 2.5 s
    settings.OUTBOUND_DRAIN_SLOTS = 2  # two chats opened one after the other: one in each slot
    messages = []
    for number in ("5511955550001", "5511955550002"):  # two chats, in the two drain slots
        with company_scope(company_a):
            contact = services.contact_for_recipient(company=company_a, instance=instance_a, recipient=number)
            conversation, _ = services.conversation_start(company=company_a, instance=instance_a, contact=contact)
        messages += [queue(company_a, conversation, hooks, Outgoing(kind="text", text=f"{number} {index}"))
                     for index in range(3)]
    assert {outbound.outbound_slot(message.conversation_id) for message in messages} == {0, 1}
    first, second = drain(company_a, messages[0]), drain(company_a, messages[3])
    assert first.handled == 2 and 0 < first.again_in <= 2.5  # the whole bucket; back when a token is there
    assert second.handled == 0 and 0 < second.again_in <= 2.5  # nothing left for the other slot
    assert [reload(company_a, message).status for message in messages] == ["sent"] * 2 + ["queued"] * 4
    assert len(sent_types(simulator, instance_a)) == 2
    granted, wait = throttle.take_up_to(instance_a.pk, 5)  # the shared bucket is empty: a token in under 2.5 s
    assert granted == 0 and 0 < wait <= 2.5  # (how far under: the time the two drains took, on a busy machine)


def test_delete_for_everyone(company_a, instance_a, conversation_a, simulator, hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="oops"))
    with company_scope(company_a), pytest.raises(services.MessagingError):
        services.message_delete_for_everyone(company=company_a, message=message)  # not sent yet
    send(company_a, message)
    with company_scope(company_a), hooks.capture(execute=True):
        services.message_delete_for_everyone(company=company_a, message=reload(company_a, message))
    message = reload(company_a, message)
    assert message.is_deleted and message.text == "oops"
    assert simulator.sent(instance_a.gateway_name)[0]["deleted"] is True
    with company_scope(company_a):  # the newest message of the chat: the list shows the deletion
        assert Conversation.objects.get(pk=conversation_a.pk).last_message_preview == "Message deleted"


def test_the_gateway_echo_of_our_send_is_not_a_second_message(company_a, instance_a, conversation_a, simulator,
                                                              hooks):
    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="echo"))
    send(company_a, message)
    simulator.set_status(instance_a.gateway_name, reload(company_a, message).gateway_message_id, "DELIVERY_ACK")
    hooks.deliver(instance_a)  # SEND_MESSAGE echo + the tick
    with company_scope(company_a):
        assert Message.objects.count() == 1
    assert reload(company_a, message).status == "delivered"


def test_ticks_move_live_and_only_forward(company_a, instance_a, conversation_a, simulator, hooks, listener):
    from tenants import realtime

    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="tick"))
    send(company_a, message)
    gateway_id = reload(company_a, message).gateway_message_id
    listener.join(company_a, realtime.topic_for("conversation", conversation_a.public_id))
    simulator.set_status(instance_a.gateway_name, gateway_id, "READ", "DELIVERY_ACK")
    hooks.deliver(instance_a)
    assert reload(company_a, message).status == "read"
    pushed = listener.drain()
    assert len(pushed) == 1  # the late DELIVERY_ACK moved nothing, so nothing was pushed
    assert f'id="message-{message.public_id.hex}"' in pushed[0] and 'hx-swap-oob="true"' in pushed[0]
    assert 'data-testid="ticks" data-status="read"' in pushed[0]


def test_a_tick_is_two_statements_and_its_bubble_is_read_only_for_an_open_thread(
        company_a, instance_a, conversation_a, company_b, instance_b, hooks, listener):
    """Every send brings the gateway's ticks: one moves its message with one SELECT and one UPDATE (a tick that
    moves nothing costs the SELECT alone), and the thread's bubble is read (after commit) only when some page
    has the thread open. A tick naming company B's message, applied in company A, moves nothing of B's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenants import realtime

    ours = [queue(company_a, conversation_a, hooks, Outgoing(kind="text", text=f"tick {n}")) for n in range(2)]
    for message in ours:
        send(company_a, message)
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        chat_b = services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)[0]
    theirs = queue(company_b, chat_b, hooks, Outgoing(kind="text", text="deles"))
    send(company_b, theirs)
    first, second = (reload(company_a, message).gateway_message_id for message in ours)

    def apply(gateway_id: str, status: str, instance=instance_a) -> tuple[bool, list[str]]:
        with company_scope(company_a), CaptureQueriesContext(connection) as queries, hooks.capture(execute=True):
            moved = services.message_apply_status(company=company_a, instance=instance, gateway_message_id=gateway_id,
                                                  status=status)
        return moved, [query["sql"] for query in queries]

    moved, statements = apply(first, "delivered")  # nobody has the thread open
    assert moved and len(statements) == 3  # the message, its move, the company's webhook endpoints
    assert statements[1].startswith('UPDATE "messaging_message"')
    # The SERVER_ACK that follows every send, a repeat or a late tick: its message is ahead already. One look.
    for stale in ("sent", "delivered"):
        assert apply(first, stale) == (False, [statements[0]])
    listener.join(company_a, realtime.topic_for("conversation", conversation_a.public_id))
    moved, statements = apply(second, "read")
    assert moved and len(statements) == 5  # and, after commit, the bubble with its reactions
    pushed = listener.drain()
    assert len(pushed) == 1 and f'id="message-{ours[1].public_id.hex}"' in pushed[0]
    assert 'data-status="read"' in pushed[0]
    message = reload(company_a, ours[1])
    assert (message.status, message.delivered_at, bool(message.read_at)) == ("read", None, True)

    their_id = reload(company_b, theirs).gateway_message_id
    assert apply(their_id, "read", instance=instance_b)[0] is False
    with company_scope(company_b):
        assert Message.objects.get(pk=theirs.pk).status == "sent"
    assert listener.drain() == []


def test_a_tick_before_the_send_recorded_its_id_is_applied_afterwards(company_a, instance_a, conversation_a, hooks):
    from instances.gateways import SendResult

    message = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="fast gateway"))
    with company_scope(company_a), hooks.capture(execute=True):
        # The gateway posted READ while our send request was still waiting for its answer.
        assert services.message_apply_status(company=company_a, instance=instance_a,
                                             gateway_message_id="3EB0EARLYTICK", status="read") is False
        Message.objects.filter(pk=message.pk).update(status="sending")
        services._record_sent(company_a, reload(company_a, message), SendResult(
            message_id="3EB0EARLYTICK", remote_jid=f"{CUSTOMER}@s.whatsapp.net", from_me=True, status="PENDING",
            timestamp=None, message_type="conversation"))
    message = reload(company_a, message)
    assert (message.status, message.gateway_message_id) == ("read", "3EB0EARLYTICK") and message.read_at


def test_our_newest_reaction_replaces_the_earlier_one(company_a, conversation_a, hooks):
    target = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="alvo"))
    queue(company_a, conversation_a, hooks, Outgoing(kind="reaction", reaction_target=target, emoji="👍"))
    queue(company_a, conversation_a, hooks, Outgoing(kind="reaction", reaction_target=target, emoji="❤"))
    with company_scope(company_a):
        visible = Message.objects.filter(kind="reaction", is_deleted=False).values_list("emoji", flat=True)
        assert list(visible) == ["❤"]


def test_a_batch_of_sends_is_written_in_one_statement_with_its_early_ticks(company_a, instance_a, conversation_a,
                                                                          company_b, instance_b, hooks):
    """The drain's batch: one UPDATE writes every send its own gateway id and chat; the company's webhook
    endpoints are read once for the batch's message.sent events; a tick that came before its send was recorded
    is applied after the batch's commit. Company B's claimed message is not touched, even handed in by mistake."""
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from instances.gateways import SendResult

    with company_scope(company_a):
        integration_services.endpoint_create(company=company_a, url="http://127.0.0.1:9/erp",
                                             event_types=["message.sent"])
    messages = [queue(company_a, conversation_a, hooks, Outgoing(kind="text", text=f"lote {index}"))
                for index in range(3)]
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        chat_b = services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)[0]
    theirs = queue(company_b, chat_b, hooks, Outgoing(kind="text", text="deles"))
    with company_scope(company_b):
        Message.objects.filter(pk=theirs.pk).update(status="sending")
        theirs = Message.objects.get(pk=theirs.pk)
    jids = [f"{CUSTOMER}@s.whatsapp.net", "", f"{CUSTOMER}@s.whatsapp.net"]  # the second: no chat in the answer
    results = [SendResult(message_id=f"3EB0ONE{index}", remote_jid=jids[index], from_me=True, status="PENDING",
                          timestamp=None, message_type="conversation") for index in range(3)]
    cache.set(services._early_status_key(instance_a, "3EB0ONE2"), "read", 60)  # its tick came first
    with company_scope(company_a):
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(status="sending",
                                                                       remote_jid="kept@s.whatsapp.net")
        loaded = [Message.objects.select_related("conversation__contact", "instance").get(pk=m.pk) for m in messages]
        foreign = SendResult(message_id="3EB0THEIRS", remote_jid="x@s.whatsapp.net", from_me=True,
                             status="PENDING", timestamp=None, message_type="conversation")
        with CaptureQueriesContext(connection) as queries, hooks.capture(execute=True):
            services.messages_record_sent(company=company_a,
                                          sent=[*zip(loaded, results, strict=True), (theirs, foreign)])
        rows = list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")
                    .values_list("gateway_message_id", "remote_jid", "status"))
        events = WebhookEvent.objects.filter(type="message.sent").count()
    updates = [query["sql"] for query in queries
               if query["sql"].replace('"', "").startswith("UPDATE messaging_message ")]
    assert len(updates) == 2  # the batch's one, and the early tick's
    endpoint_reads = [q["sql"] for q in queries if 'FROM "integrations_webhookendpoint"' in q["sql"]]
    assert len(endpoint_reads) == 2  # one for the batch's three message.sent, one for the early tick's event
    assert rows == [("3EB0ONE0", f"{CUSTOMER}@s.whatsapp.net", "sent"), ("3EB0ONE1", "kept@s.whatsapp.net", "sent"),
                    ("3EB0ONE2", f"{CUSTOMER}@s.whatsapp.net", "read")]
    assert [message.status for message in loaded] == ["sent", "sent", "sent"]  # in hand as written
    assert events == 3
    with company_scope(company_b):
        row = Message.objects.get(pk=theirs.pk)
        assert (row.status, row.gateway_message_id) == ("sending", None)
        assert not WebhookEvent.objects.filter(company=company_b).exists()


def test_a_batch_of_sends_is_recorded_together_and_an_echo_stored_first_is_absorbed(company_a, instance_a,
                                                                                     conversation_a, hooks):
    """The drain records a batch's sends in one transaction; when the gateway's echo of one of them was stored
    first (its id taken), the batch is recorded one by one instead: each send once, the echo folded in."""
    from instances.gateways import SendResult

    messages = [queue(company_a, conversation_a, hooks, Outgoing(kind="text", text=f"lote {index}"))
                for index in range(3)]
    jid = f"{CUSTOMER}@s.whatsapp.net"
    with company_scope(company_a):
        Message.objects.filter(pk__in=[m.pk for m in messages]).update(status="sending")
        echo = Message.objects.create(company=company_a, conversation=conversation_a, instance=instance_a,
                                      direction="out", text="lote 1", status="delivered", status_rank=40,
                                      gateway_message_id="3EB0BATCH1", sender_type="api")
        results = [SendResult(message_id=f"3EB0BATCH{index}", remote_jid=jid, from_me=True, status="PENDING",
                              timestamp=None, message_type="conversation") for index in range(3)]
        loaded = [Message.objects.select_related("conversation__contact").get(pk=m.pk) for m in messages]
        with hooks.capture(execute=True):
            services.messages_record_sent(company=company_a, sent=list(zip(loaded, results, strict=True)))
        rows = list(Message.objects.order_by("pk").values_list("pk", "gateway_message_id", "status"))
    assert rows == [(messages[0].pk, "3EB0BATCH0", "sent"), (messages[1].pk, "3EB0BATCH1", "delivered"),
                    (messages[2].pk, "3EB0BATCH2", "sent")]  # the echo's tick kept, its row gone
    with company_scope(company_a):
        assert not Message.objects.filter(pk=echo.pk).exists()


def test_the_sends_of_one_process_share_their_gateway_connections_across_batches(
        company_a, instance_a, conversation_a, company_b, instance_b, simulator, hooks, gateway_server):
    """Each drain batch used to open its own client, so a drain that keeps up (batches of one or two) paid a new
    connection, behind HTTPS a TLS handshake, for nearly every send. The process keeps one pooled client per
    gateway server: three batches, of company A and then of company B on the same server, go over one connection,
    each under its own instance's token (each message reaches its own number). An operator's edit of the server
    (its key) takes effect with the next batch, on a new client."""
    from instances import services as instance_services
    from messaging.services import SEND_TIMEOUT

    def connections() -> int:
        pool = instance_services.pooled_gateway(gateway_server, timeout=SEND_TIMEOUT).transport._client
        return len(pool._transport._pool.connections)  # httpx keeps no public count of its pool

    first = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="um"))
    assert send(company_a, first) == "sent"
    pooled = instance_services.pooled_gateway(gateway_server, timeout=SEND_TIMEOUT)
    second = queue(company_a, conversation_a, hooks, Outgoing(kind="text", text="dois"))
    assert send(company_a, second) == "sent"
    with company_scope(company_b):
        contact_b = services.contact_for_recipient(company=company_b, instance=instance_b, recipient=CUSTOMER)
        chat_b = services.conversation_start(company=company_b, instance=instance_b, contact=contact_b)[0]
    theirs = queue(company_b, chat_b, hooks, Outgoing(kind="text", text="deles"))
    assert send(company_b, theirs) == "sent"
    assert instance_services.pooled_gateway(gateway_server, timeout=SEND_TIMEOUT) is pooled
    assert connections() == 1
    assert [entry["message"]["conversation"] for entry in simulator.sent(instance_a.gateway_name)] == ["um", "dois"]
    assert [entry["message"]["conversation"] for entry in simulator.sent(instance_b.gateway_name)] == ["deles"]

    gateway_server.api_key = "rotated-" + gateway_server.api_key
    assert instance_services.pooled_gateway(gateway_server, timeout=SEND_TIMEOUT) is not pooled
