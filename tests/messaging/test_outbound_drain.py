"""The outbound drain (messaging/outbound.py): a send wakes its chat's drain, the drain sends in order, a chat
waits behind its message that has to wait, a lingering drain is woken without a task, and the sweep finds a
message whose task was lost. Real PostgreSQL, Redis, broker and simulator; transactions commit as in production,
so every wake-up really runs after its commit."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from messaging import outbound, services
from messaging.models import Message
from messaging.services import Outgoing
from messaging.tasks import drain_outbound, send_message, sweep_outbox
from tenants import redis_scripts
from tenants.scoping import company_scope

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _one_slot(settings):
    settings.OUTBOUND_DRAIN_SLOTS = 1  # every chat of an instance in one drain, unless a test says otherwise
    # One gateway call at a time, so an injected failure hits the call the test means (the simulator fails the
    # next call it receives), unless a test says otherwise.
    settings.OUTBOUND_SEND_CONCURRENCY = 1


def conversation(company, instance, number: str):
    with company_scope(company):
        contact = services.contact_for_recipient(company=company, instance=instance, recipient=number)
        return services.conversation_start(company=company, instance=instance, contact=contact)[0]


def send(company, conversation_, text: str) -> Message:
    """What the composer and the API do: message_send in its own transaction (the wake runs at its commit)."""
    with company_scope(company):
        return services.message_send(company=company, conversation=conversation_,
                                     outgoing=Outgoing(kind="text", text=text), sender_type="api")[0]


def run_drain(company, instance, slot: int = 0, **options) -> outbound.DrainRun:
    with company_scope(company):
        return outbound.outbound_drain(company=company, instance_id=instance.pk, slot=slot, **options)


def statuses(company, *messages) -> list[str]:
    with company_scope(company):
        found = dict(Message.objects.filter(pk__in=[message.pk for message in messages]).values_list("pk", "status"))
    return [found[message.pk] for message in messages]


def texts_sent(simulator, instance) -> list[str]:
    return [entry["message"].get("conversation", "") for entry in simulator.sent(instance.gateway_name)]


def queued_tasks() -> int:
    return redis_scripts.client().llen("messaging")


def slot_held(company, instance, slot: int = 0) -> bool:
    return outbound.SLOTS.held(outbound.outbound_scope(company.pk, instance.pk), slot)


def test_a_send_wakes_its_drain_once_and_the_drain_sends_the_chat_in_order(company_a, instance_a, company_b,
                                                                            instance_b, simulator):
    app.control.purge()
    chat = conversation(company_a, instance_a, "5511955550001")
    first = send(company_a, chat, "um")
    assert queued_tasks() == 1 and slot_held(company_a, instance_a)  # the first send's commit started a drain
    later = [send(company_a, chat, text) for text in ("dois", "três")]
    assert queued_tasks() == 1  # the drain's slot was held: the later sends only left it a wake-up
    # Company B's message, in B's slot 0: B's own drain, never A's.
    theirs = send(company_b, conversation(company_b, instance_b, "5511955550001"), "deles")
    assert queued_tasks() == 2

    run = run_drain(company_a, instance_a)
    assert (run.handled, run.again_in, run.next_due) == (3, None, None)
    assert texts_sent(simulator, instance_a) == ["um", "dois", "três"]
    assert statuses(company_a, first, *later) == ["sent"] * 3
    assert not slot_held(company_a, instance_a)  # given back: the next send starts a new drain
    assert statuses(company_b, theirs) == ["queued"] and texts_sent(simulator, instance_b) == []


def test_a_chat_waits_behind_its_message_that_has_to_wait_and_other_chats_do_not(company_a, instance_a, simulator):
    app.control.purge()
    chat, other_chat = (conversation(company_a, instance_a, number) for number in ("5511955550001", "5511955550002"))
    first, second = send(company_a, chat, "primeiro"), send(company_a, chat, "segundo")
    other = send(company_a, other_chat, "outro")
    simulator.fail_next(instance_a.gateway_name, count=1, mode="server_error")  # the first send fails, for now

    run = run_drain(company_a, instance_a)
    assert statuses(company_a, first, second, other) == ["queued", "queued", "sent"]
    with company_scope(company_a):
        held = Message.objects.get(pk=first.pk)
        assert Message.objects.get(pk=second.pk).attempts == 0  # handed back, not counted
    assert run.next_due == held.retry_at and held.retry_at > timezone.now()  # the drain comes back for it then
    assert texts_sent(simulator, instance_a) == ["outro"]
    assert run_drain(company_a, instance_a).handled == 0  # before the backoff, the chat still waits

    with company_scope(company_a):
        Message.objects.filter(pk=first.pk).update(retry_at=timezone.now() - timedelta(seconds=1))
    assert run_drain(company_a, instance_a).handled == 2
    assert texts_sent(simulator, instance_a) == ["outro", "primeiro", "segundo"]  # the chat's order kept


def test_a_lingering_drain_is_woken_by_the_next_send_without_a_task(company_a, instance_a, company_b, instance_b,
                                                                   simulator, settings):
    settings.OUTBOUND_DRAIN_LINGER_MS = 5000
    app.control.purge()
    chat = conversation(company_a, instance_a, "5511955550001")
    send(company_a, chat, "antes")
    app.control.purge()  # that send's task: this test runs the drain itself, in a thread
    result: list = []

    def drain() -> None:
        try:
            result.append(run_drain(company_a, instance_a, seconds=3))
        finally:
            connection.close()

    runner = threading.Thread(target=drain)
    runner.start()
    for _ in range(100):  # the first message sent: the drain now lingers
        if texts_sent(simulator, instance_a):
            break
        time.sleep(0.02)
    send(company_a, chat, "depois")
    assert queued_tasks() == 0  # no task: the lingering drain was woken
    send(company_b, conversation(company_b, instance_b, "5511955550001"), "deles")
    assert queued_tasks() == 1  # company B's send: B's own drain, as always
    runner.join(timeout=10)
    assert result[0].handled == 2 and texts_sent(simulator, instance_a) == ["antes", "depois"]


def test_the_sweep_wakes_a_message_whose_task_was_lost_and_the_old_task_name_still_sends(company_a, instance_a,
                                                                                      company_b, instance_b,
                                                                                      simulator, settings):
    app.control.purge()
    lost = send(company_a, conversation(company_a, instance_a, "5511955550001"), "perdida")
    app.control.purge()  # the broker lost its task (Redis keeps nothing on disk) and the slot key expired
    outbound.SLOTS.release(outbound.outbound_scope(company_a.pk, instance_a.pk), 0)
    recent = send(company_b, conversation(company_b, instance_b, "5511955550001"), "recente")
    app.control.purge()
    outbound.SLOTS.release(outbound.outbound_scope(company_b.pk, instance_b.pk), 0)
    with company_scope(company_a):
        Message.objects.filter(pk=lost.pk).update(
            created_at=timezone.now() - timedelta(seconds=settings.OUTBOUND_SWEEP_AFTER_SECONDS + 5))

    assert sweep_outbox.apply().get() == 1  # company A's old message; B's is too recent to be called lost
    assert queued_tasks() == 1 and slot_held(company_a, instance_a) and not slot_held(company_b, instance_b)
    assert drain_outbound.apply(args=[company_a.pk, instance_a.pk, 0]).get() == 1  # the task the sweep sent
    assert statuses(company_a, lost) == ["sent"] and statuses(company_b, recent) == ["queued"]

    # A task of the release before the drain (one per message) wakes the message's drain instead.
    assert send_message.apply(args=[company_b.pk, recent.pk]).get() is True
    assert slot_held(company_b, instance_b)
    assert drain_outbound.apply(args=[company_b.pk, instance_b.pk, 0]).get() == 1
    assert statuses(company_b, recent) == ["sent"] and texts_sent(simulator, instance_b) == ["recente"]
    assert send_message.apply(args=[company_a.pk, recent.pk]).get() is False  # another company's id: nothing


def test_a_scheduled_run_takes_the_slot_first_and_leaves_a_running_drain_alone(company_a, instance_a, simulator):
    app.control.purge()
    message = send(company_a, conversation(company_a, instance_a, "5511955550001"), "agendada")
    assert slot_held(company_a, instance_a)  # its drain is queued
    # A run scheduled for a backoff's end, arriving while that drain holds the slot: leaves a wake-up, sends nothing.
    assert drain_outbound.apply(args=[company_a.pk, instance_a.pk, 0, True]).get() == 0
    assert statuses(company_a, message) == ["queued"]
    outbound.SLOTS.release(outbound.outbound_scope(company_a.pk, instance_a.pk), 0)
    assert drain_outbound.apply(args=[company_a.pk, instance_a.pk, 0, True]).get() == 1
    assert statuses(company_a, message) == ["sent"] and not slot_held(company_a, instance_a)


def test_past_its_deadline_a_drain_hands_the_rest_of_its_batch_back(company_a, instance_a, simulator, monkeypatch):
    """A gateway that answers late: each send may wait SEND_TIMEOUT, so a drain stops between two sends once its
    run's time is up, and the messages it had claimed and not tried go back to the queue, uncounted. (One call
    at a time here, as the module's fixture sets; with several in flight, see the next test.)"""
    monkeypatch.setattr(services, "SEND_TIMEOUT", 0.5)
    app.control.purge()
    messages = [send(company_a, conversation(company_a, instance_a, number), f"cliente {index}")
                for index, number in enumerate(("5511955550001", "5511955550002", "5511955550003"))]
    simulator.fail_next(instance_a.gateway_name, mode="timeout", seconds=1)  # the first send: no answer in time

    run = run_drain(company_a, instance_a, seconds=0.2)
    assert (run.handled, run.again_in) == (1, 0)  # its task comes back at once, still holding the slot
    assert statuses(company_a, *messages) == ["sending", "queued", "queued"]
    with company_scope(company_a):
        assert list(Message.objects.filter(pk__in=[m.pk for m in messages[1:]]).values_list("attempts", flat=True)) \
            == [0, 0]
    assert run_drain(company_a, instance_a).handled == 2  # the next run: the other chats go on
    assert statuses(company_a, *messages) == ["sending", "sent", "sent"]  # the first waits for its lookup


def test_other_chats_are_sent_while_one_waits_for_a_slow_gateway_and_calls_in_flight_are_recorded(
        company_a, instance_a, company_b, instance_b, simulator, monkeypatch, settings):
    """Several gateway calls in flight at once (OUTBOUND_SEND_CONCURRENCY), each to a different chat: the other
    chats do not wait behind one the gateway answers late, and a call in flight when the run's time is up is
    recorded, never handed back (it may have gone out). Company B's message waits for B's drain."""
    settings.OUTBOUND_SEND_CONCURRENCY = 4
    monkeypatch.setattr(services, "SEND_TIMEOUT", 0.5)
    app.control.purge()
    messages = [send(company_a, conversation(company_a, instance_a, number), f"cliente {index}")
                for index, number in enumerate(("5511955550001", "5511955550002", "5511955550003"))]
    theirs = send(company_b, conversation(company_b, instance_b, "5511955550002"), "deles")
    simulator.fail_next(instance_a.gateway_name, mode="timeout", seconds=1)  # the first call: no answer in time

    run = run_drain(company_a, instance_a, seconds=0.2)
    assert run.handled == 3  # the two others were in flight beside the late one: answered and recorded
    # Whichever call reached the simulator first (they run at once) waits for its lookup; none went back.
    assert sorted(statuses(company_a, *messages)) == ["sending", "sent", "sent"]
    assert statuses(company_b, theirs) == ["queued"] and texts_sent(simulator, instance_b) == []


def test_with_calls_in_flight_each_chat_still_leaves_in_order(company_a, instance_a, simulator, monkeypatch,
                                                              settings):
    """A chat's next message is called only after its previous one was answered: three chats' messages
    interleaved in one batch leave each chat in the order written, and a chat whose message has to wait (no
    answer in time) holds its later ones back while the other chats go on."""
    settings.OUTBOUND_SEND_CONCURRENCY = 4
    monkeypatch.setattr(services, "SEND_TIMEOUT", 0.5)
    app.control.purge()
    chats = [conversation(company_a, instance_a, f"551195556000{index}") for index in range(3)]
    written = [(chat, f"chat {index} msg {n}") for n in range(3) for index, chat in enumerate(chats)]
    simulator.fail_next(instance_a.gateway_name, mode="timeout", seconds=1)  # the first call: no answer in time
    messages = [send(company_a, chat, text) for chat, text in written]

    run_drain(company_a, instance_a)
    found = statuses(company_a, *messages)
    by_chat = {chat.pk: [status for (of, _text), status in zip(written, found, strict=True) if of == chat]
               for chat in chats}
    late = [index for index, chat in enumerate(chats) if by_chat[chat.pk] != ["sent"] * 3]
    assert len(late) == 1  # whichever chat's first call the simulator answered late (the calls run at once)
    assert by_chat[chats[late[0]].pk] == ["sending", "queued", "queued"]  # it waits; its later ones held back
    texts = texts_sent(simulator, instance_a)
    for index in range(3):
        expected = [] if index == late[0] else [f"chat {index} msg {n}" for n in range(3)]
        leaving = [text for text in texts if text.startswith(f"chat {index} ")]
        # The late call reaches the simulator after its 1 s, and nothing of its chat after it.
        assert leaving in (expected, [f"chat {index} msg 0"] if index == late[0] else expected)


def test_a_drain_run_reads_its_instance_once_and_sends_each_batch_oldest_first(company_a, instance_a, company_b,
                                                                               instance_b, simulator, settings):
    """Three batches of one in a run: the instance (its server, its decrypted token) is read once, not with
    every claimed message, and the messages leave oldest first. Company B's message waits for B's drain."""
    from django.test.utils import CaptureQueriesContext

    settings.OUTBOUND_DRAIN_BATCH = 1
    app.control.purge()
    chats = [conversation(company_a, instance_a, f"551195555000{index}") for index in range(3)]
    ours = [send(company_a, chat, f"m{index}") for index, chat in enumerate(chats)]
    theirs = send(company_b, conversation(company_b, instance_b, "5511955550001"), "deles")
    with CaptureQueriesContext(connection) as queries:
        run = run_drain(company_a, instance_a)
    instance_reads = [query["sql"] for query in queries.captured_queries
                      if query["sql"].startswith("SELECT") and '"instances_instance"' in query["sql"]]  # or JOIN
    assert run.handled == 3 and len(instance_reads) == 1
    assert texts_sent(simulator, instance_a) == ["m0", "m1", "m2"]
    assert statuses(company_a, *ours) == ["sent"] * 3
    assert statuses(company_b, theirs) == ["queued"] and texts_sent(simulator, instance_b) == []


def test_a_batch_of_three_is_loaded_through_the_shape_of_four_and_each_message_sent_once(company_a, instance_a,
                                                                                         company_b, instance_b,
                                                                                         simulator):
    """The claimed batch's load is prepared per power of two (tenants.prepared.padded): three messages go through
    the shape of four, the repeated id answers once, and each message is sent once. B's message waits for B."""
    app.control.purge()
    ours = [send(company_a, conversation(company_a, instance_a, f"551195556000{index}"), f"p{index}")
            for index in range(3)]
    theirs = send(company_b, conversation(company_b, instance_b, "5511955560001"), "deles")
    run = run_drain(company_a, instance_a)
    assert run.handled == 3
    assert sorted(texts_sent(simulator, instance_a)) == ["p0", "p1", "p2"]
    assert statuses(company_a, *ours) == ["sent"] * 3
    assert 4 in services._claimed_loads
    assert all(size & (size - 1) == 0 for size in services._claimed_loads)
    assert statuses(company_b, theirs) == ["queued"] and texts_sent(simulator, instance_b) == []


def test_the_claim_once_prepared_is_planned_for_its_values_so_it_keeps_the_outbox_index(company_a, instance_a,
                                                                                       company_b, instance_b,
                                                                                       simulator):
    """The claim's status values are parameters: a generic plan cannot use the outbox's partial index and scans
    the company's messages, so PostgreSQL must plan each run (plan_cache_mode, config/settings.py). Run more often
    than psycopg's prepare threshold, the claim is prepared and has never been planned generically. B's message
    waits for B's drain."""
    app.control.purge()
    chat = conversation(company_a, instance_a, "5511955570001")
    theirs = send(company_b, conversation(company_b, instance_b, "5511955570002"), "deles")
    for index in range(8):
        send(company_a, chat, f"c{index}")
        assert run_drain(company_a, instance_a).handled == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                       "WHERE statement LIKE %s", ["%WITH chosen%"])
        plans = cursor.fetchall()
    assert plans and all(generic == 0 and custom > 0 for generic, custom in plans)
    assert statuses(company_b, theirs) == ["queued"]
