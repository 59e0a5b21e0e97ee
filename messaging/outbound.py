"""The outbound drain: queued messages sent by one long-running task per instance and chat slot, in order.

Each instance has OUTBOUND_DRAIN_SLOTS drain slots, and each message belongs to one of them by its
conversation (`conversation_id % slots`): one chat's messages are sent by one drain, one after the other, in
the order they were written. A message that has to wait (a transient failure's backoff, a send with no
answer yet) holds its chat's later messages back until it is sent or has failed (services._outbox), so a
customer never reads the second message before the first.

`message_send` wakes the message's slot after its commit (`outbound_wake`, tenants/drains.py): the slot is
taken with SET NX and one `messaging.drain_outbound` task is enqueued; when the slot is held its drain is
running and finds the message (a lingering drain is woken at once). A drain loops: it takes up to
OUTBOUND_DRAIN_BATCH tokens from the instance's send throttle (messaging/throttle.py, shared by every worker),
claims as many sendable messages (`services.messages_claim`: one statement), sends and records each
(`services.message_deliver`), and gives back the tokens it did not use. When the throttle has none, the
drain ends and its task is enqueued again for when one will be there, still holding the slot, so a throttled
instance holds no worker child while it waits. After OUTBOUND_DRAIN_SECONDS it chains itself, so other tasks
are not starved.

A drain that finds nothing lingers up to OUTBOUND_DRAIN_LINGER_MS for a wake-up, then gives its slot back,
looks once more (a message whose wake found the slot held) and stops; if a message of its slot waits for a
later moment (a backoff, a lease), a task is scheduled for that moment. The beat's `messaging.sweep_outbox`
wakes the slot of any message sendable for longer than OUTBOUND_SWEEP_AFTER_SECONDS: a task lost with the
broker (Redis keeps nothing on disk) or a worker that died with its claim loses no message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging import services, throttle
from messaging.models import Message
from tenants import realtime
from tenants.drains import DrainSlots
from tenants.models import Company

SLOTS = DrainSlots("outbound-drain")
# A throttle wait this short is slept in the drain; a longer one ends the run (the task comes back for it).
THROTTLE_SLEEP_MAX = 0.25


def outbound_slot(conversation_id: int) -> int:
    return conversation_id % settings.OUTBOUND_DRAIN_SLOTS


def outbound_scope(company_id: int, instance_id: int) -> str:
    return f"{company_id}:{instance_id}"


def outbound_wake(company_id: int, instance_id: int, slot: int) -> bool:
    """Make sure a drain will send the slot's newly committed message; whether a new drain was started."""
    from messaging.tasks import drain_outbound

    if not SLOTS.take_or_wake(outbound_scope(company_id, instance_id), slot):
        return False  # its drain is running (or queued, or lingering: woken) and looks again before it stops
    drain_outbound.apply_async(args=[company_id, instance_id, slot])
    return True


@dataclass(frozen=True)
class DrainRun:
    """What a drain run did: messages handled; `again_in`, when the task must run again (holding the slot):
    seconds, 0 for at once; `next_due`, when a message of the slot waits for a later moment (slot released)."""

    handled: int
    again_in: float | None = None
    next_due: datetime | None = None


def outbound_drain(*, company: Company, instance_id: int, slot: int, seconds: float | None = None) -> DrainRun:
    """Send the slot's sendable messages, oldest first, until none is left, the throttle says wait, or time ran out."""
    scope, slots = outbound_scope(company.pk, instance_id), settings.OUTBOUND_DRAIN_SLOTS
    deadline = time.monotonic() + (settings.OUTBOUND_DRAIN_SECONDS if seconds is None else seconds)
    handled = 0
    # The instance (with its server) is read once per run: a token or address changed meanwhile is used from the
    # next run, seconds later.
    instances: dict = {}
    while True:
        if time.monotonic() >= deadline:
            SLOTS.hold(scope, slot)
            return DrainRun(handled, again_in=0)
        granted, wait = throttle.take_up_to(instance_id, settings.OUTBOUND_DRAIN_BATCH)
        if not granted:
            due = services.outbox_next_due(company=company, instance_id=instance_id, slot=slot, slots=slots)
            if due is None or due > timezone.now():
                # Nothing to send now anyway: stop as a drain that found nothing does (it comes back when due).
                if (stopped := _stop(company, instance_id, slot, handled)) is not None:
                    return stopped
                continue
            if wait <= THROTTLE_SLEEP_MAX:
                time.sleep(wait)
                continue
            SLOTS.hold(scope, slot, wait)
            return DrainRun(handled, again_in=wait)
        claimed = services.messages_claim(company=company, instance_id=instance_id, slot=slot, slots=slots,
                                          limit=granted, instances=instances)
        throttle.give_back(instance_id, granted - len(claimed))
        if claimed:
            handled += _send_batch(company, claimed, deadline)
            continue
        if SLOTS.linger(scope, slot, min(settings.OUTBOUND_DRAIN_LINGER_MS / 1000, deadline - time.monotonic())):
            continue
        if (stopped := _stop(company, instance_id, slot, handled)) is not None:
            return stopped


def _stop(company: Company, instance_id: int, slot: int, handled: int) -> DrainRun | None:
    """Give the slot back, then look once more: a message whose wake found the slot held is sent by this run
    (the slot retaken: None, go on) or by the drain its next wake starts."""
    scope = outbound_scope(company.pk, instance_id)
    SLOTS.release(scope, slot)
    next_due = services.outbox_next_due(company=company, instance_id=instance_id, slot=slot,
                                        slots=settings.OUTBOUND_DRAIN_SLOTS)
    if next_due is None:
        return DrainRun(handled)
    if next_due > timezone.now():
        return DrainRun(handled, next_due=next_due)
    if SLOTS.retake(scope, slot):
        return None  # sendable now: its wake found our slot held
    return DrainRun(handled)  # another drain took the slot meanwhile and sends it


def _send_batch(company: Company, claimed: list[services.Claimed], deadline: float) -> int:
    """Send the claimed messages; how many were handled. Up to OUTBOUND_SEND_CONCURRENCY gateway calls are in
    flight at once, each the earliest unhandled message of its chat (a chat's next message is called only
    after its previous one was answered and its outcome handled), and the outcomes are handled in the batch's
    order, in this thread (every database write is here; the calls only speak HTTP). A chat whose message has
    to wait hands its later ones back; past the run's deadline (a gateway that answers slowly or not at all:
    each send may wait SEND_TIMEOUT) the calls in flight are awaited and recorded, and the rest of the batch is
    handed back for the next run. The batch's live pushes go out together when it ends (one frame per page)."""
    waiting: set[int] = set()  # conversations with a message that has to wait
    gateways: dict = {}  # one client per instance for the batch (on the process's pooled connections)
    sent: list = []  # recorded together when the batch ends: one transaction, one commit
    calls: dict[int, Future] = {}  # index in the batch -> its gateway call, in flight or answered
    with realtime.coalesced(), recording(company, sent):
        for index, item in enumerate(claimed):
            conversation_id = item.message.conversation_id
            if time.monotonic() >= deadline and index not in calls:
                flying = sorted(calls)  # in flight: their outcomes are recorded, never handed back
                for later in flying:
                    _handle(company, claimed[later], gateways, sent, calls.pop(later), waiting, claimed, later)
                rest = [other.message for position, other in enumerate(claimed[index:], start=index)
                        if other.message.conversation_id not in waiting and position not in flying]
                services.messages_hand_back(company=company, messages=rest)
                return index
            if conversation_id in waiting:
                continue
            _call_ahead(claimed, index, waiting, calls, gateways)
            _handle(company, item, gateways, sent, calls.pop(index, None), waiting, claimed, index)
    return len(claimed)


def _call_ahead(claimed: list[services.Claimed], index: int, waiting: set[int], calls: dict[int, Future],
                gateways: dict) -> None:
    """Start the gateway calls of the next messages that may go now, up to OUTBOUND_SEND_CONCURRENCY in flight:
    each the earliest unhandled one of its chat, not taking over an expired claim (that asks the gateway first)."""
    limit = settings.OUTBOUND_SEND_CONCURRENCY
    if limit <= 1:
        return
    chats: set[int] = set()
    ready: list[int] = []
    for position in range(index, len(claimed)):
        if len(calls) + len(ready) >= limit:
            break
        item = claimed[position]
        chat = item.message.conversation_id
        if chat in chats or chat in waiting:
            continue
        chats.add(chat)
        if position not in calls and item.previous_lease is None:
            ready.append(position)
    if ready == [index] and not calls:
        return  # nothing to overlap with: it is called in this thread, as with one call at a time
    for position in ready:
        services.gateway_open(claimed[position].message, gateways)  # in this thread: the calls share its client
        calls[position] = _calls().submit(services.gateway_call, claimed[position].message, gateways)


def _handle(company: Company, item: services.Claimed, gateways: dict, sent: list, call: Future | None,
            waiting: set[int], claimed: list[services.Claimed], index: int) -> None:
    outcome = services.message_deliver(company=company, claimed=item, gateways=gateways, sent=sent, call=call)
    if outcome.result == "retry":
        conversation_id = item.message.conversation_id
        waiting.add(conversation_id)
        later = [other.message for other in claimed[index + 1:] if other.message.conversation_id == conversation_id]
        if later:
            services.messages_hand_back(company=company, messages=later)


_pool: tuple[int, ThreadPoolExecutor] | None = None


def _calls() -> ThreadPoolExecutor:
    """This process's threads for gateway calls (made after the worker forked its child)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(settings.OUTBOUND_SEND_CONCURRENCY,
                                                 thread_name_prefix="gateway-call"))
    return _pool[1]


@contextmanager
def recording(company: Company, sent: list) -> Iterator[None]:
    """Record the batch's sends when it ends, however it ends: one that is not recorded stays claimed and is
    looked up at the gateway when its lease ends (recorded then, never sent twice)."""
    try:
        yield
    finally:
        services.messages_record_sent(company=company, sent=sent)



def sweep_outbox() -> int:
    """Wake the slot of every message sendable for longer than OUTBOUND_SWEEP_AFTER_SECONDS (its task was lost
    with the broker or a worker); how many drains were started. The beat is the one cross-tenant reader here
    (STYLE rule 30): it reads ids only, through the partial index of unsent messages."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.OUTBOUND_SWEEP_AFTER_SECONDS)
    # all_companies: the beat fans out across companies; ids only, and each drain runs in its company's scope.
    rows = (Message.all_companies.filter(direction=Message.Direction.OUT, created_at__lt=cutoff)
            .filter(services.sendable_at(cutoff))
            .order_by().values_list("company_id", "instance_id", "conversation_id").distinct())
    slots = {(company_id, instance_id, outbound_slot(conversation_id))
             for company_id, instance_id, conversation_id in rows}
    return sum(outbound_wake(*slot) for slot in sorted(slots))

